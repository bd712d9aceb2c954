"""git mlv env / doctor: what git mlv sees (versions, repository, filter and
hooks, cache, remotes, tracked patterns, settings), and whether each part works.

``env`` only reads: it writes nothing, contacts no remote and never imports
boto3 (credentials are looked for in the environment, the remote's own keys
and the AWS files, and only their source is shown, never a value). ``doctor``
runs one check per part; it contacts an S3 remote only when its committed
settings are trusted (gitext/trust.py), and waits for it a short time."""
from __future__ import annotations

import os
import sys

from gitext import __version__
from gitext.errors import ConfigError, MlvError, NotARepository
from gitext.git.process import run
from gitext.git.repo import Repo, find_repo
from gitext.hooks import HOOK_NAMES, LEGACY_SUFFIX, fast_command_line, is_ours, shim_text
from gitext.options import SECRET_KEYS

TYPE_CHECKING = False  # not typing's: importing typing costs ms; type checkers honour the name
if TYPE_CHECKING:
    import argparse

    from gitext.config import Config, RemoteSpec

JSON_FORMAT = 1               # bumped when a key of 'git mlv env --json' changes meaning or goes away
MIN_GIT = (2, 27)             # doctor's floor: delayed checkout in the filter protocol, config --show-scope
CACHE_WALK_FILES = 200_000    # the cache walk stops after this many entries ...
CACHE_WALK_SECONDS = 2.0      # ... or this long; counts are then lower bounds ("complete": false)
REMOTE_WAIT = 15.0            # seconds doctor waits for one S3 remote to answer
REMOTE_TIMEOUTS = {"connect_timeout": "5", "read_timeout": "10", "retry_time": "10"}  # unless the remote sets them
OBJECT_CHECK_LIMIT = 1000     # at most this many uncached index objects are looked up on an S3 remote

# Every mlv.* setting (mlv.remote.* are shown under remotes): (key, environment variable
# that overrides it, the .mlvconfig key it overrides, the default as shown).
SETTINGS = (
    ("mlv.core.remote", "MLV_REMOTE", "core.remote", "none (the only remote, if there is exactly one)"),
    ("mlv.core.params", None, "core.params", "params.yaml"),
    ("mlv.core.metrics", None, "core.metrics", "metrics.json"),
    ("mlv.jobs", "MLV_JOBS", None, "the remote's default (8 local, 16 S3)"),
    ("mlv.fetchinclude", "MLV_FETCHINCLUDE", "mlv.fetchinclude", "none (every path)"),
    ("mlv.fetchexclude", "MLV_FETCHEXCLUDE", "mlv.fetchexclude", "none"),
    ("mlv.largefilesize", "MLV_LARGEFILESIZE", None, "64MiB"),
    ("mlv.linktype", "MLV_LINKTYPE", None, "auto"),
    ("mlv.cachedir", "MLV_CACHEDIR", None, "none (the repository's own .git/mlv/cache)"),
    ("mlv.cacheshared", "MLV_CACHESHARED", None, "core.sharedRepository"),
    ("mlv.chunksize", None, None, "64KiB"),
    ("mlv.chunkthreshold", None, None, "8MiB"),
    ("mlv.gc.grace", "MLV_GC_GRACE", None, "14 (days)"),
    ("mlv.gc.recent", "MLV_GC_RECENT", None, "14 (days)"),
    ("mlv.repoid", None, None, "none (made at the first push)"),
)
MULTI_VALUED = ("mlv.core.params", "mlv.core.metrics")
ENV_NAMES = ("GIT_MLV",)  # shown with every MLV_* variable that is set
AWS_ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


# ---------------------------------------------------------------- reading (env)

def _dist_version(name: str) -> str | None:
    """A distribution's version from its metadata (importing boto3 would cost ~300 ms)."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_version() -> str | None:
    try:
        text = run(["--version"], check=False).decode("utf-8", "replace").strip()
    except MlvError:
        return None
    return text.removeprefix("git version ").strip() or None


def version_tuple(text: str | None) -> tuple[int, ...]:
    """'2.39.5' (or '2.39.5.windows.1', '2.40.0-rc1') -> (2, 39, 5); () when unknown."""
    numbers = []
    for part in (text or "").split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _config_entries(pattern: str, cwd: str | None) -> list[dict[str, str]]:
    """Every value of the keys matching ``pattern`` (a git config regexp), in the order git
    reads them, with their scope and origin ('file:.git/config', as --show-origin says)."""
    raw = run(["config", "-z", "--show-scope", "--show-origin", "--get-regexp", pattern], cwd=cwd, check=False)
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    for i in range(0, len(fields) - 2, 3):
        key, _, value = fields[i + 2].partition("\n")
        entries.append({"key": key, "value": value, "scope": fields[i], "origin": fields[i + 1]})
    return entries


def _last(entries: list[dict[str, str]], key: str) -> dict[str, str] | None:
    """The value git uses for a single-valued key: the last one read."""
    found = [e for e in entries if e["key"] == key]
    return found[-1] if found else None


def _source(entry: dict[str, str]) -> str:
    origin = entry["origin"].removeprefix("file:")
    return f"{entry['scope']} ({origin})" if origin else entry["scope"]


def _find_repo() -> Repo | None:
    try:
        return find_repo()
    except NotARepository:
        return None


def _shim_paths(path: str) -> tuple[str, str] | None:
    """(python, launcher) of a shim's fast start line, or None."""
    import shlex

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read(8192).splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("[ -x "):
            try:
                words = shlex.split(line)
            except ValueError:
                return None
            if len(words) > 7 and words[1] == "-x" and words[6] == "-f":
                return words[2], words[7]
    return None


def _hook_state(hooks_dir: str, name: str) -> dict[str, object]:
    path = os.path.join(hooks_dir, name)
    legacy = path + LEGACY_SUFFIX
    state: dict[str, object] = {"name": name, "path": path}
    if not os.path.lexists(path):
        state["state"] = "missing"
    elif is_ours(path):
        state["state"] = "installed"
    else:
        state["state"] = "other"  # someone else's hook, not git mlv's shim
    state["executable"] = os.path.isfile(path) and os.access(path, os.X_OK)
    state["runs"] = state["runnable"] = None  # what our shim starts, and whether it can start
    current = None
    if state["state"] == "installed":
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                current = f.read() == shim_text(name)
        except (OSError, MlvError):
            current = None
        fast = _shim_paths(path)
        state["runs"] = fast[0] if fast else None
        state["runnable"] = bool(fast and os.access(fast[0], os.X_OK) and os.path.isfile(fast[1])) \
            or _which("git-mlv") is not None
    state["current"] = current  # the shim this git-mlv installs (None: not ours, or unknown)
    state["chained"] = legacy if os.path.lexists(legacy) else None
    state["chained_executable"] = os.path.isfile(legacy) and os.access(legacy, os.X_OK)
    return state


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def _hooks(repo: Repo) -> dict[str, object] | None:
    if repo.is_bare and not repo.in_git_dir:  # a bare repository: install writes no hooks there
        return None
    hooks_dir = repo.hooks_dir()
    hooks_path = _last(_config_entries(r"^core\.hookspath$", repo.cwd), "core.hookspath")
    default_dir = os.path.join(repo.common_dir, "hooks")
    shadowed = []
    if hooks_path is not None and os.path.realpath(default_dir) != os.path.realpath(hooks_dir):
        shadowed = [name for name in HOOK_NAMES if is_ours(os.path.join(default_dir, name))]
    return {
        "dir": hooks_dir,
        "hooks_path": None if hooks_path is None else {"value": hooks_path["value"], "scope": hooks_path["scope"],
                                                       "origin": hooks_path["origin"]},
        "default_dir": default_dir,  # where git looks without core.hooksPath
        "shadowed": shadowed,  # git mlv's shims there, which core.hooksPath makes git ignore
        "hooks": [_hook_state(hooks_dir, name) for name in HOOK_NAMES],
    }


def _filter(cwd: str | None) -> dict[str, object]:
    entries = _config_entries(r"^(filter|diff|merge)\.mlv\.", cwd)
    process = _last(entries, "filter.mlv.process")
    clean = _last(entries, "filter.mlv.clean")
    expected = fast_command_line() + " filter-process"
    return {
        "installed": bool((process and process["value"]) or (clean and clean["value"])),
        "scope": (process or clean or {}).get("scope"),
        "skip_smudge": bool(process and " --skip" in process["value"]),
        "this_installation": bool(process and process["value"].removesuffix(" --skip") == expected),
        "settings": entries,
    }


def _cache_root(repo: Repo, entries: list[dict[str, str]]) -> str:
    """The cache in use: MLV_CACHEDIR, else mlv.cachedir from git config (gitext/cachedir.py)."""
    from gitext.cachedir import cache_root

    chosen = _last(entries, "mlv.cachedir")
    return cache_root(repo, os.environ.get("MLV_CACHEDIR", chosen["value"] if chosen else None))[0]


def _walk_cache(path: str) -> dict[str, object]:
    """Objects (<xx>/<yyyy...> regular files) and their bytes, within the walk's bounds."""
    import time

    from gitext.pointer import is_oid

    count = size = seen = 0
    complete = True
    deadline = time.monotonic() + CACHE_WALK_SECONDS
    try:
        prefixes = sorted(os.listdir(path))
    except OSError:
        prefixes = []
    for prefix in prefixes:
        if len(prefix) != 2:
            continue
        try:
            with os.scandir(os.path.join(path, prefix)) as it:
                for entry in it:
                    seen += 1
                    if seen > CACHE_WALK_FILES or (seen % 1024 == 0 and time.monotonic() > deadline):
                        complete = False
                        break
                    if is_oid(prefix + entry.name) and entry.is_file(follow_symlinks=False):
                        count += 1
                        try:
                            size += entry.stat(follow_symlinks=False).st_size
                        except OSError:
                            pass
        except OSError:
            continue
        if not complete:
            break
    return {"path": path, "exists": os.path.isdir(path), "objects": count, "bytes": size, "complete": complete}


# ------------------------------------------------------------ credentials (no boto3)

def _aws_files() -> tuple[str, str]:
    creds = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join("~", ".aws", "credentials")
    config = os.environ.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
    return os.path.expanduser(creds), os.path.expanduser(config)


def _ini(path: str):  # type: ignore[no-untyped-def]
    import configparser

    parser = configparser.RawConfigParser(strict=False)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return parser


def _profile(profile: str) -> dict[str, object] | None:
    """Where AWS profile ``profile`` gets its credentials from, by the files botocore
    reads; {'found': False, ...} for a profile defined without any; None if undefined."""
    creds_file, config_file = _aws_files()
    creds = _ini(creds_file)
    if creds is not None and creds.has_section(profile):
        if creds.has_option(profile, "aws_access_key_id"):
            return {"found": True, "source": "profile", "detail": f"profile '{profile}' in {creds_file}"}
    config = _ini(config_file)
    section = next((s for s in (f"profile {profile}", profile if profile == "default" else None)
                    if s and config is not None and config.has_section(s)), None)
    if section is None:
        return None if creds is None or not creds.has_section(profile) else \
            {"found": False, "source": None, "detail": f"profile '{profile}' in {creds_file} has no aws_access_key_id"}
    options = set(config.options(section))  # type: ignore[union-attr]
    kinds = (("aws_access_key_id", "keys"), ("credential_process", "credential_process"),
             ("sso_session", "SSO"), ("sso_start_url", "SSO"), ("role_arn", "assume role"),
             ("web_identity_token_file", "web identity"))
    kind = next((label for option, label in kinds if option in options), None)
    if kind is None:
        return {"found": False, "source": None, "detail": f"profile '{profile}' in {config_file} names no credentials"}
    return {"found": True, "source": "profile", "detail": f"profile '{profile}' in {config_file} ({kind})"}


def credentials(spec: RemoteSpec) -> dict[str, object]:
    """Whether S3 credentials for ``spec`` can be found, and from where, in the order
    botocore looks (the remote's keys, its profile, which turns the environment off, the
    environment, AWS_PROFILE or 'default' in the AWS files, a container). Never a value.
    ``found`` None: nothing here, but botocore may still get some (instance metadata)."""
    keys = [k for k in ("access_key_id", "secret_access_key") if spec.options.get(k)]
    if len(keys) == 2:
        names = " and ".join(f"mlv.remote.{spec.name}.{k.replace('_', '')}" for k in keys)
        return {"found": True, "source": "remote", "detail": f"{names} (git config)", "problem": None}
    if keys:
        lack = "secret_access_key" if keys == ["access_key_id"] else "access_key_id"
        return {"found": False, "source": None, "detail": None,
                "problem": f"remote '{spec.name}' has {keys[0]} but no {lack}"}
    chosen = spec.options.get("profile")
    if chosen:
        got = _profile(chosen)
        if got is None:
            return {"found": False, "source": None, "detail": None,
                    "problem": f"AWS profile '{chosen}' (the remote's profile) is defined in neither "
                               f"{' nor '.join(_aws_files())}"}
        return {**got, "problem": None}
    have = [k for k in AWS_ENV_KEYS if os.environ.get(k)]
    if len(have) == 2:
        names = have + (["AWS_SESSION_TOKEN"] if os.environ.get("AWS_SESSION_TOKEN") else [])
        return {"found": True, "source": "environment", "detail": ", ".join(names), "problem": None}
    if have:
        lack = next(k for k in AWS_ENV_KEYS if k not in have)
        return {"found": False, "source": None, "detail": None, "problem": f"{have[0]} is set but {lack} is not"}
    if os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and os.environ.get("AWS_ROLE_ARN"):
        return {"found": True, "source": "web-identity", "detail": "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN",
                "problem": None}
    named = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    got = _profile(named or "default")
    if got is None and named:
        return {"found": False, "source": None, "detail": None,
                "problem": f"AWS profile '{named}' (AWS_PROFILE) is defined in neither {' nor '.join(_aws_files())}"}
    if got is not None and got["found"]:
        return {**got, "problem": None}
    for var in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        if os.environ.get(var):
            return {"found": True, "source": "container", "detail": var, "problem": None}
    return {"found": None, "source": None, "detail": "none in the environment, git config or the AWS files "
            "(instance metadata may still provide some)", "problem": None}


# ------------------------------------------------------------ remotes

def _trust_state(spec: RemoteSpec, repo: Repo) -> dict[str, object]:
    from gitext import trust

    values = trust.guarded(spec.options, spec.committed)
    try:
        spec.check_trust()
        if "url" in spec.committed:
            trust.check_store_path(spec.name, spec.url, repo.main_root)
    except trust.UntrustedRemote:
        return {"state": "changed since approved" if spec.approved else "not approved",
                "detail": trust.describe(values), "fix": f"git mlv remote trust {spec.name}"}
    except ConfigError as exc:
        return {"state": "invalid", "detail": exc.message, "fix": exc.hint}
    if values:
        return {"state": "approved", "detail": trust.describe(values), "fix": None}
    return {"state": "not needed", "detail": None, "fix": None}


def default_remote(config: Config) -> tuple[str | None, str | None]:
    """(the remote commands use by default, why), as Config.remote chooses it."""
    if os.environ.get("MLV_REMOTE"):
        return os.environ["MLV_REMOTE"], "environment (MLV_REMOTE)"
    if config.settings.get("mlv.core.remote"):
        return config.settings["mlv.core.remote"], "mlv.core.remote (git config)"
    if config.default_remote:
        return config.default_remote, "core.remote (.mlvconfig)"
    if len(config.remotes) == 1:
        return next(iter(config.remotes)), "the only remote"
    return None, None


def _remote(spec: RemoteSpec, repo: Repo, default: str | None) -> dict[str, object]:
    from gitext.store import resolve_local_path

    s3 = spec.url.startswith("s3://")
    shown = {k: ("****" if k in SECRET_KEYS else v) for k, v in sorted(spec.options.items())}
    info: dict[str, object] = {
        "name": spec.name,
        "url": spec.url,
        "default": spec.name == default,
        "kind": "s3" if s3 else "local",
        "path": None if s3 else resolve_local_path(spec.url, repo.main_root),
        "endpoint": spec.options.get("endpointurl") if s3 else None,
        "region": spec.options.get("region") if s3 else None,
        "profile": spec.options.get("profile") if s3 else None,
        "layout": spec.options.get("layout"),  # None: detected from what the store holds
        "options": shown,
        "committed": sorted(spec.committed),   # what comes from .mlvconfig
        "trust": _trust_state(spec, repo),
        "credentials": credentials(spec) if s3 else None,
        "exists": None if s3 else os.path.isdir(resolve_local_path(spec.url, repo.main_root)),
    }
    return info


# ------------------------------------------------------------ settings

def _settings(entries: list[dict[str, str]], shared: dict[str, str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for key, env, shared_key, default in SETTINGS:
        found = [e for e in entries if e["key"] == key]
        if env and os.environ.get(env):
            value, source, origin = os.environ[env], "environment", env
        elif found:
            chosen = found if key in MULTI_VALUED else found[-1:]
            value = ", ".join(e["value"] for e in chosen)
            source, origin = chosen[-1]["scope"], chosen[-1]["origin"]
        elif shared_key and shared.get(shared_key):
            value, source, origin = shared[shared_key], ".mlvconfig", shared_key
        else:
            value, source, origin = default, "default", None
        rows.append({"key": key, "value": value, "source": source, "origin": origin, "known": True})
    known = {row[0] for row in SETTINGS}
    for entry in entries:
        if entry["key"] not in known and not entry["key"].startswith(("mlv.remote.", "mlv.trusted.")):
            rows.append({"key": entry["key"], "value": entry["value"], "source": entry["scope"],
                         "origin": entry["origin"], "known": False})
    return rows


def gather() -> dict[str, object]:
    """Everything 'git mlv env' shows, as the JSON object --json prints."""
    import platform

    repo = _find_repo()
    cwd = repo.cwd if repo else None
    problems: list[str] = []
    info: dict[str, object] = {
        "format": JSON_FORMAT,
        "versions": {"git-mlv": __version__, "git": _git_version(), "python": platform.python_version(),
                     "python_executable": sys.executable, "boto3": _dist_version("boto3"),
                     "pygit2": _dist_version("pygit2")},
        "repository": None if repo is None else {"work_tree": repo.root, "git_dir": repo.git_dir,
                                                 "common_dir": repo.common_dir, "bare": repo.is_bare},
        "filter": _filter(cwd),
        "hooks": _hooks(repo) if repo else None,
        "cache": None,
        "remotes": [],
        "default_remote": None,
        "tracked": [],
        "settings": [],
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith("MLV_") or k in ENV_NAMES},
        "problems": problems,
    }
    entries = _config_entries(r"^mlv\.", cwd)
    if repo is not None:
        info["cache"] = _walk_cache(_cache_root(repo, entries))
    shared: dict[str, str] = {}
    if repo is not None:
        from gitext.config import load_config, shared_settings

        try:
            shared = shared_settings(repo)
            config = load_config(repo)
        except ConfigError as exc:
            problems.append(exc.message)
        else:
            name, why = default_remote(config)
            info["default_remote"] = None if name is None else {"name": name, "source": why,
                                                                "configured": name in config.remotes}
            info["remotes"] = [_remote(config.remotes[n], repo, name) for n in sorted(config.remotes)]
        if repo.root is not None:
            from gitext.attributes import Attributes

            try:
                info["tracked"] = Attributes(repo.root).tracked()
            except ConfigError as exc:
                problems.append(exc.message)
    info["settings"] = _settings(entries, shared)
    return info


# ------------------------------------------------------------ printing (env)

def _print_env(info: dict[str, object]) -> None:
    versions: dict = info["versions"]  # type: ignore[assignment]
    print(f"git-mlv {versions['git-mlv']}")
    print(f"git {versions['git'] or 'not found'}")
    print(f"Python {versions['python']} ({versions['python_executable']})")
    for name in ("boto3", "pygit2"):
        print(f"{name} {versions[name] or 'not installed'}")

    repo: dict | None = info["repository"]  # type: ignore[assignment]
    print()
    if repo is None:
        print("repository: not in a repository")
    else:
        print("repository:")
        print(f"  work tree: {repo['work_tree'] or '(none: bare, or inside the git dir)'}")
        print(f"  git dir: {repo['git_dir']}")
        print(f"  common dir: {repo['common_dir']}")

    filt: dict = info["filter"]  # type: ignore[assignment]
    print()
    state = "installed" if filt["installed"] else "not installed (run 'git mlv install')"
    if filt["installed"]:
        state += f" in the {filt['scope']} config" + (", smudge skipped (--skip-smudge)" if filt["skip_smudge"] else "")
        state += "" if filt["this_installation"] else ", by another git-mlv installation than this one"
    print(f"filter: {state}")
    for entry in filt["settings"]:
        print(f"  {entry['key']}={entry['value']}  [{_source(entry)}]")

    hooks: dict | None = info["hooks"]  # type: ignore[assignment]
    if hooks is not None:
        print()
        print(f"hooks: {hooks['dir']}")
        hp = hooks["hooks_path"]
        print(f"  core.hooksPath: {'not set' if hp is None else hp['value'] + '  [' + _source(hp) + ']'}")
        for hook in hooks["hooks"]:
            print(f"  {hook['name']}: {_hook_words(hook)}")
        if hooks["shadowed"]:
            print(f"  ignored because of core.hooksPath: git mlv's {', '.join(hooks['shadowed'])} in "
                  f"{hooks['default_dir']}")

    cache: dict | None = info["cache"]  # type: ignore[assignment]
    if cache is not None:
        from gitext.output import human_size, plural

        print()
        print(f"cache: {cache['path']}")
        if not cache["exists"]:
            print("  not created yet (0 objects)")
        else:
            least = "" if cache["complete"] else "at least "
            print(f"  {least}{plural(cache['objects'], 'object')}, {least}{cache['bytes']} bytes "
                  f"({human_size(cache['bytes'])})" + ("" if cache["complete"] else " (walk stopped early)"))

    if repo is not None:
        print()
        _print_remotes(info)
        print()
        tracked: list = info["tracked"]  # type: ignore[assignment]
        print("tracked patterns (.gitattributes):" + ("" if tracked else " none"))
        for pattern in tracked:
            print(f"  {pattern}")

    print()
    print("settings:")
    for row in info["settings"]:  # type: ignore[attr-defined]
        where = row["source"] + (f" ({row['origin'].removeprefix('file:')})" if row["origin"] else "")
        print(f"  {row['key']}={row['value']}  [{where}]" + ("" if row["known"] else "  (not a git mlv setting)"))
    environment: dict = info["environment"]  # type: ignore[assignment]
    print()
    print("environment:" + ("" if environment else " no MLV_* variable set"))
    for key, value in environment.items():
        print(f"  {key}={value}")
    for problem in info["problems"]:  # type: ignore[attr-defined]
        print(f"\nproblem: {problem}")


def _hook_words(hook: dict) -> str:
    words = {"installed": "installed", "missing": "missing", "other": "not git mlv's (another hook is there)"}
    text = words[hook["state"]]
    if hook["state"] != "missing" and not hook["executable"]:
        text += ", not executable"
    if hook["state"] == "installed" and hook["current"] is False:
        text += ", differs from this git-mlv's shim"
    if hook["chained"]:
        text += f", chained to {os.path.basename(hook['chained'])}"
        text += "" if hook["chained_executable"] else " (not executable: it does not run)"
    return text


def _print_remotes(info: dict) -> None:
    remotes = info["remotes"]
    chosen = info["default_remote"]
    default = "none" if chosen is None else f"{chosen['name']} [{chosen['source']}]" + (
        "" if chosen["configured"] else " (no remote has that name)")
    print(f"remotes: {len(remotes) or 'none'}, default {default}")
    for remote in remotes:
        print(f"  {remote['name']}{' (default)' if remote['default'] else ''}")
        print(f"    url: {remote['url']}")
        if remote["kind"] == "local":
            print(f"    kind: local, {remote['path']}{'' if remote['exists'] else ' (does not exist)'}")
        else:
            print(f"    kind: s3, endpoint {remote['endpoint'] or 'AWS'}"
                  + (f", region {remote['region']}" if remote["region"] else "")
                  + (f", profile {remote['profile']}" if remote["profile"] else ""))
        print(f"    layout: {remote['layout'] or 'detected'}")
        others = {k: v for k, v in remote["options"].items() if k not in ("endpointurl", "region", "profile", "layout")}
        if others:
            print("    options: " + " ".join(f"{k}={v}" for k, v in others.items()))
        if remote["committed"]:
            print(f"    from .mlvconfig: {', '.join(remote['committed'])}")
        trust = remote["trust"]
        text = trust["state"] + (f": {trust['detail']}" if trust["detail"] else "")
        print(f"    trust: {text}" + (f" (run '{trust['fix']}')" if trust["fix"] and trust["state"] != "invalid"
                                      else ""))
        creds = remote["credentials"]
        if creds is not None:
            if creds["problem"]:
                print(f"    credentials: problem: {creds['problem']}")
            else:
                found = "found" if creds["found"] else "not found"
                source = "" if creds["source"] in (None, "profile") else f"{creds['source']}: "
                print(f"    credentials: {found}" + (f" ({source}{creds['detail']})" if creds["detail"] else ""))


def run_env(args: argparse.Namespace) -> int:
    if getattr(args, "check", False):
        return run_doctor(args)
    info = gather()
    if args.json:
        import json

        print(json.dumps(info, indent=2))
    else:
        _print_env(info)
    return 0


# ---------------------------------------------------------------- checking (doctor)

class Report:
    """One line per check: 'ok', 'warning' or 'error', what was found, and the fix."""

    def __init__(self) -> None:
        self.errors = 0

    def line(self, status: str, check: str, message: str, fix: str | None = None) -> None:
        if status == "error":
            self.errors += 1
        print(f"{status:<7} {check}: {message}" + (f"; fix: {fix}" if fix else ""), flush=True)

    def ok(self, check: str, message: str) -> None:
        self.line("ok", check, message)

    def warn(self, check: str, message: str, fix: str | None = None) -> None:
        self.line("warning", check, message, fix)

    def error(self, check: str, message: str, fix: str | None = None) -> None:
        self.line("error", check, message, fix)


def _check_git(report: Report, version: str | None) -> None:
    floor = ".".join(map(str, MIN_GIT))
    if version is None:
        report.error("git", "git is not installed or not on PATH", "install git (2.27 or later)")
    elif version_tuple(version) < MIN_GIT:
        report.error("git", f"git {version} is older than {floor}, the oldest git mlv works with",
                     f"install git {floor} or later")
    else:
        report.ok("git", f"{version} ({floor} or later needed)")


def _install_fix(scope: str | None, repo: Repo | None) -> str:
    if scope in ("global", "system") or repo is None:
        return "git mlv install --global"
    return "git mlv install"


def _check_filter(report: Report, filt: dict, repo: Repo | None) -> None:
    import shlex

    settings = filt["settings"]
    fix = _install_fix(filt["scope"], repo)
    process = _last(settings, "filter.mlv.process")
    if not filt["installed"]:
        if repo is None:  # most installs are a repository's own: not an error out here
            report.warn("filter", "not installed in the global config (no filter.mlv.process)",
                        "git mlv install --global, or 'git mlv install' inside each repository")
            return
        (report.warn if repo.is_bare and not repo.in_git_dir else report.error)(
            "filter", "git mlv is not installed for this repository (git config has no filter.mlv.process)",
            "git mlv install")
        return
    if process is None:
        report.warn("filter", "only filter.mlv.clean is set: git starts one process per file, which is slow", fix)
    else:
        try:
            words = shlex.split(process["value"])
        except ValueError:
            words = []
        exe = words[0] if words else ""
        found = (os.path.isfile(exe) and os.access(exe, os.X_OK)) if os.path.isabs(exe) else _which(exe) is not None
        launcher = words[2] if len(words) > 2 and words[1] == "-S" else None
        if not found:
            report.error("filter", f"filter.mlv.process runs {exe or '(nothing)'}, which is not an executable "
                         f"[{_source(process)}]", fix)
            return
        if launcher is not None and not os.path.isfile(launcher):
            report.error("filter", f"filter.mlv.process runs {launcher}, which does not exist [{_source(process)}]",
                         fix)
            return
        skip = ", smudge skipped (--skip-smudge)" if filt["skip_smudge"] else ""
        if not filt["this_installation"]:
            report.warn("filter", f"filter.mlv.process runs {exe} {launcher or ''}, not this git-mlv "
                        f"({fast_command_line()}) [{_source(process)}]{skip}", fix)
        else:
            report.ok("filter", f"filter.mlv.process runs {exe} [{_source(process)}]{skip}")
    required = _last(settings, "filter.mlv.required")
    if required is not None and required["value"].strip().lower() in ("true", "yes", "on", "1", ""):
        report.ok("filter.mlv.required", "true (git stops rather than commit data when the filter fails)")
    else:
        report.error("filter.mlv.required", "not true: when the filter fails, git would commit the file's bytes",
                     fix)
    missing = [k for k in ("diff.mlv.textconv", "merge.mlv.driver") if _last(settings, k) is None]
    if missing:
        report.warn("diff and merge drivers", f"{' and '.join(missing)} not set", fix)
    else:
        report.ok("diff and merge drivers", "diff.mlv.textconv and merge.mlv.driver set")


def _check_hooks(report: Report, hooks: dict, filt: dict, repo: Repo) -> None:
    hooks_dir = hooks["dir"]
    hp = hooks["hooks_path"]
    fix = _install_fix(filt["scope"], repo)
    states = hooks["hooks"]
    missing = [h["name"] for h in states if h["state"] == "missing"]
    if hp is not None and missing:
        unset = f"git config --{hp['scope']} --unset core.hooksPath" if hp["scope"] in ("local", "global", "system",
                                                                                       "worktree") else None
        shadowed = f" (git mlv's in {hooks['default_dir']} are not run)" if hooks["shadowed"] else ""
        report.error("hooks", f"core.hooksPath [{_source(hp)}] points at {hooks_dir}, which lacks git mlv's "
                     f"{', '.join(missing)}{shadowed}",
                     f"{fix} (installs them in {hooks_dir})" + (f", or {unset}" if unset else ""))
        missing = []
    elif missing:
        report.error("hooks", f"{', '.join(missing)} missing from {hooks_dir} (pre-push uploads the data)", fix)
    bad = False
    for hook in states:
        name = hook["name"]
        if hook["state"] == "other":
            bad = True
            report.error(f"hook {name}", f"{hook['path']} is not git mlv's hook (a tool replaced it?)",
                         f"{fix} (keeps it as {name}{LEGACY_SUFFIX}, and runs it first)")
        elif hook["state"] == "installed" and not hook["executable"]:
            bad = True
            report.error(f"hook {name}", f"{hook['path']} is not executable, so git does not run it",
                         f"chmod +x {hook['path']}")
        elif hook["state"] == "installed" and not hook["runnable"]:
            bad = True
            report.error(f"hook {name}", f"{hook['path']} runs {hook['runs'] or 'git-mlv'}, which does not exist, "
                         "and git-mlv is not on PATH", fix)
        elif hook["state"] == "installed" and hook["current"] is False:
            bad = True
            report.warn(f"hook {name}", f"{hook['path']} differs from the shim this git-mlv installs", fix)
        if hook["chained"] and not hook["chained_executable"]:
            bad = True
            report.warn(f"hook {name}", f"the chained {hook['chained']} is not executable, so it does not run",
                        f"chmod +x {hook['chained']} (or remove it)")
    if not missing and not bad and all(h["state"] == "installed" for h in states):
        chained = [h["name"] for h in states if h["chained"]]
        report.ok("hooks", f"{', '.join(HOOK_NAMES)} installed in {hooks_dir}"
                  + (f" (chained: {', '.join(chained)})" if chained else "")
                  + (f" [core.hooksPath, {_source(hp)}]" if hp else ""))


def _check_cache(report: Report, cache: dict) -> None:
    path = cache["path"]
    probe = path
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.lexists(path) and not os.path.isdir(path):
        report.error("cache", f"{path} is not a directory", f"move it away: mv {path} {path}.old")
    elif not os.access(probe, os.W_OK | os.X_OK):
        report.error("cache", f"{probe} is not writable, so nothing can be added or fetched",
                     f"make it writable: chmod -R u+w {probe}")
    else:
        from gitext.output import plural

        state = plural(cache["objects"], "object") if cache["exists"] else "not created yet"
        report.ok("cache", f"{path} is writable ({state})")


def _check_settings(report: Report, info: dict, config: Config | None) -> None:
    for row in info["settings"]:
        if not row["known"]:
            scope = row["source"]
            fix = f"git config --{scope} --unset {row['key']}" if scope in ("local", "global", "system") else None
            report.warn("settings", f"{row['key']} is not a git mlv setting (a typo?) [{scope}]", fix)
    if config is None:
        return
    try:
        config.large_file_size()
        config.linktype()
        config.get_int("mlv.jobs", 1)
    except ConfigError as exc:
        report.error("settings", exc.message, exc.hint)
        return
    report.ok("settings", "mlv.jobs, mlv.largefilesize and mlv.linktype are valid")


def _contact(spec: RemoteSpec, repo: Repo) -> tuple[object | None, MlvError | None]:
    """Open the remote and check it can be read, waiting at most REMOTE_WAIT seconds:
    (the store, None) or (None or the store, what went wrong)."""
    import threading

    from gitext.errors import RemoteError
    from gitext.store import open_store

    os.environ.setdefault("AWS_MAX_ATTEMPTS", "1")  # this process only: one try per request
    options = {**REMOTE_TIMEOUTS, **spec.options}
    result: list[object] = []

    def check() -> None:
        try:
            store = open_store(spec.name, spec.url, options, repo.main_root)
            result.append(store)
            store.check_readable()  # type: ignore[attr-defined]
            result.append(None)
        except MlvError as exc:
            result.append(exc)
        except Exception as exc:  # noqa: BLE001 - a report line, not a crash
            result.append(RemoteError(f"{type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=check, name="mlv-doctor", daemon=True)
    thread.start()
    thread.join(REMOTE_WAIT)
    store = result[0] if result and not isinstance(result[0], MlvError) else None
    if thread.is_alive():
        return store, RemoteError(f"no answer within {REMOTE_WAIT:g} s",
                                  "check that the endpoint is up and reachable from here")
    outcome = result[-1] if result else None
    return store, outcome if isinstance(outcome, MlvError) else None


def _check_remote(report: Report, remote: dict, spec: RemoteSpec, repo: Repo) -> object | None:
    """One line for one remote; the store when it could be read (to look objects up)."""
    name = remote["name"]
    check = f"remote {name}"
    trust = remote["trust"]
    if trust["state"] == "invalid":
        report.error(check, trust["detail"], trust["fix"])
        return None
    if trust["state"] in ("not approved", "changed since approved"):  # commands refuse it: so is it not contacted
        why = "changed since you approved it" if trust["state"] == "changed since approved" else \
            "which you have not approved on this machine"
        report.error(check, f"not contacted: in .mlvconfig it {trust['detail']}, {why}", trust["fix"])
        return None
    if remote["kind"] == "local":
        path = remote["path"]
        elsewhere = f"git mlv remote modify --local {name} url PATH"
        if not os.path.lexists(path):
            report.error(check, f"{path} does not exist",
                         f"mkdir -p {path} (git mlv push never creates it), or point it elsewhere: {elsewhere}")
            return None
        if not os.path.isdir(path):
            report.error(check, f"{path} is not a directory", elsewhere)
            return None
        if not os.access(path, os.R_OK | os.X_OK):
            report.error(check, f"{path} is not readable", f"chmod u+rx {path}")
            return None
        from gitext.store import open_store

        try:
            store = open_store(spec.name, spec.url, spec.options, repo.main_root)
        except MlvError as exc:  # a bad layout option
            report.error(check, exc.message, exc.hint)
            return None
        if not os.access(path, os.W_OK):
            report.warn(check, f"{path} is readable but not writable: git mlv push will fail", f"chmod u+w {path}")
        else:
            report.ok(check, f"{path} is readable and writable")
        return store
    creds = remote["credentials"]
    if creds["problem"]:
        report.error(check, f"S3 credentials: {creds['problem']}",
                     f"set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or git mlv remote modify --local {name} "
                     "access_key_id ... (and secret_access_key)")
        return None
    if _dist_version("boto3") is None:
        report.error(check, "boto3 is not installed, so S3 remotes cannot be used", "pip install boto3")
        return None
    where = f"{remote['endpoint'] or 'AWS S3'}"
    store, problem = _contact(spec, repo)
    if problem is not None:
        report.error(check, problem.message, problem.hint)
        return None
    source = f"credentials from {creds['source']}" if creds["found"] else "credentials from the AWS default chain"
    report.ok(check, f"{remote['url']} at {where} can be read ({source})")
    return store


def _check_objects(report: Report, repo: Repo, default: str | None, stores: dict[str, object],
                   cache_path: str) -> None:
    """Pointers in the index whose objects are in neither the cache nor the default remote."""
    if _dist_version("pygit2") is None:
        return  # reported above
    from gitext.git.scanner import Scanner
    from gitext.output import plural

    try:
        entries = Scanner(repo).index_entries()
    except (MlvError, OSError) as exc:
        report.warn("index objects", f"cannot read the index: {getattr(exc, 'message', exc)}")
        return
    if not entries:
        report.ok("index objects", "no pointers in the index")
        return
    by_oid = {e.pointer.oid: e for e in entries}
    uncached = sorted(oid for oid in by_oid if not os.path.lexists(os.path.join(cache_path, oid[:2], oid[2:])))
    total = plural(len(by_oid), "object")
    if not uncached:
        report.ok("index objects", f"{total} in the index, all in the cache")
        return
    store = stores.get(default) if default else None
    if store is None or (getattr(store, "cheap_reads", True) is False and len(uncached) > OBJECT_CHECK_LIMIT):
        report.warn("index objects", f"{len(uncached)} of {total} in the index are not in the cache, and the "
                    f"default remote was not checked", "git mlv pull (once the remote can be read)")
        return
    try:
        present = store.exists(uncached)  # type: ignore[attr-defined]
    except MlvError as exc:
        report.warn("index objects", f"{len(uncached)} of {total} are not cached; the remote: {exc.message}")
        return
    lost = [oid for oid in uncached if oid not in present]
    if lost:
        first = by_oid[lost[0]].path
        report.error("index objects", f"{len(lost)} of {total} in the index are in neither the cache nor remote "
                     f"'{default}' (first: {first})",
                     f"in a clone that has the data of {first}: git mlv push (or git add the file again here)")
    else:
        report.ok("index objects", f"{total}: {len(by_oid) - len(uncached)} cached, {len(uncached)} on remote "
                  f"'{default}'")


def run_doctor(args: argparse.Namespace) -> int:
    report = Report()
    info = gather()
    versions: dict = info["versions"]  # type: ignore[assignment]
    _check_git(report, versions["git"])
    if versions["pygit2"] is None:
        report.error("pygit2", "pygit2 is not installed", "pip install pygit2")
    repo = _find_repo()
    if repo is None:
        report.warn("repository", "not inside a git repository: only the global setup is checked",
                    "cd into a repository (or git init one), then git mlv doctor")
    else:
        report.ok("repository", repo.root or repo.git_dir)
    config: Config | None = None
    if repo is not None:
        from gitext.config import load_config

        try:
            config = load_config(repo)
        except ConfigError as exc:
            report.error(".mlvconfig", exc.message, exc.hint)
        else:
            shared = os.path.join(repo.root, ".mlvconfig") if repo.root else None
            if shared and os.path.lexists(shared):
                from gitext.output import plural

                report.ok(".mlvconfig", f"readable ({plural(len(config.remotes), 'remote')} configured)")
            else:
                report.ok(".mlvconfig", "none in the working tree (remotes come from git config, or the index)")
    _check_filter(report, info["filter"], repo)  # type: ignore[arg-type]
    if repo is not None and info["hooks"] is not None:
        _check_hooks(report, info["hooks"], info["filter"], repo)  # type: ignore[arg-type]
    if repo is not None:
        _check_cache(report, info["cache"])  # type: ignore[arg-type]
    _check_settings(report, info, config)
    if repo is not None and config is not None:
        _check_remotes(report, info, config, repo)
    return 1 if report.errors else 0


def _check_remotes(report: Report, info: dict, config: Config, repo: Repo) -> None:
    chosen = info["default_remote"]
    if not config.remotes:
        report.error("default remote", "no git mlv remote is configured",
                     "git mlv remote add -d storage PATH-OR-s3://BUCKET")
    elif chosen is None:
        report.error("default remote", "several remotes and no default",
                     f"git mlv remote default {sorted(config.remotes)[0]}")
    elif not chosen["configured"]:
        report.error("default remote", f"'{chosen['name']}' [{chosen['source']}] is not a configured remote",
                     f"git mlv remote default {sorted(config.remotes)[0]}"
                     + (" (or unset MLV_REMOTE)" if chosen["source"].startswith("environment") else ""))
    else:
        report.ok("default remote", f"{chosen['name']} [{chosen['source']}]")
    stores: dict[str, object] = {}
    for remote in info["remotes"]:
        store = _check_remote(report, remote, config.remotes[remote["name"]], repo)
        if store is not None:
            stores[remote["name"]] = store
    if repo.root is not None:
        default = chosen["name"] if chosen and chosen["configured"] else None
        _check_objects(report, repo, default, stores, info["cache"]["path"])
    for store in stores.values():
        try:
            store.close()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001, S110 - closing a store must not change the report
            pass
