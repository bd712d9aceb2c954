"""Settings: .mlvconfig (shared, committed) under .git/config's mlv.* (local,
secrets) under the environment. One frozen Config per command; writes go
through ConfigWriter."""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from gitext.errors import ConfigError, GitError, UsageError
from gitext.git import config as gitconfig
from gitext.git.repo import Repo
from gitext.options import SECRET_KEYS, parse_bool, parse_count, parse_size, remote_option
from gitext.output import quote_path, warn

MLVCONFIG = ".mlvconfig"
REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/[^\s]*)?")
DEFAULT_LARGE_FILE_SIZE = 64 * 1024 * 1024
LINKTYPES = ("auto", "reflink", "hardlink", "copy")  # alone, or comma-separated: gitext/linking.py


MAX_MLVCONFIG_SIZE = 1024 * 1024


def shared_file(path: str) -> bool:
    """Whether the committed .mlvconfig at ``path`` may be read: it exists as a regular
    file of sane size. A symbolic link is never followed (a committed link could
    point at any file on this machine), as git ignores a symlinked .gitattributes."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode):
        warn(f"ignoring {MLVCONFIG}: it is a symbolic link, and git mlv never follows one",
             f"replace it by a regular file: git rm --cached {MLVCONFIG} && git mlv remote add ...")
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if st.st_size > MAX_MLVCONFIG_SIZE:
        raise ConfigError(f"{path} is {st.st_size} bytes, too large for a {MLVCONFIG} (at most 1 MiB)",
                          f"check what was committed as {MLVCONFIG}")
    return True


def read_mlvconfig(path: str) -> dict[str, str]:
    if not shared_file(path):
        return {}
    return _read_target(gitconfig.Target(file=path), path)


def _read_target(target: gitconfig.Target, where: str, cwd: str | None = None) -> dict[str, str]:
    try:
        return gitconfig.read_all(target, cwd=cwd, check=True)
    except GitError as exc:  # a broken file must say so, in one line
        raise ConfigError(f"cannot read {where}: {exc.message}",
                          f"fix the syntax (see 'git config -f {MLVCONFIG} --list')") from None


def shared_settings(repo: Repo) -> dict[str, str]:
    """The committed .mlvconfig: the working tree's; else, not written yet (git clone
    writes files in index order, and ' x', '#x', '-x' come before it) or deleted,
    the index's; else, while a clone has written no index yet, HEAD's (as git-lfs
    reads .lfsconfig). A bare repository: HEAD's. Two git calls at most, and only
    when the working tree has no .mlvconfig."""
    from gitext.git.index_file import index_path

    if repo.root is not None:
        path = os.path.join(repo.root, MLVCONFIG)
        if os.path.lexists(path):
            return read_mlvconfig(path)
    if repo.root is not None and os.path.exists(index_path(repo.git_dir)):
        found = repo.run(["ls-files", "-s", "-z", "--", f":(top,literal){MLVCONFIG}"], check=False)
        mode, blob = found.split(b" ", 2)[:2] if found else (b"", b"")
        size = repo.run(["cat-file", "-s", blob.decode()], check=False) if mode in (b"100644", b"100755") else b""
    else:
        found = repo.run(["ls-tree", "-z", "-l", "HEAD", "--", MLVCONFIG], check=False)
        mode, _kind, blob, size = found.split(b"\t", 1)[0].split()[:4] if found else (b"",) * 4
    if mode not in (b"100644", b"100755") or not size.strip().isdigit():
        return {}  # absent, or a symbolic link / submodule: not read
    if int(size) > MAX_MLVCONFIG_SIZE:
        raise ConfigError(f"the committed {MLVCONFIG} is {int(size)} bytes, too large (at most 1 MiB)",
                          f"check what was committed as {MLVCONFIG}")
    return _read_target(gitconfig.Target(blob=blob.decode()), f"the committed {MLVCONFIG}", cwd=repo.cwd)


def split_key(key: str) -> tuple[str, str, str]:
    """'remote.my.store.url' -> ('remote', 'my.store', 'url')."""
    section, _, rest = key.partition(".")
    sub, _, name = rest.rpartition(".")
    return section, sub, name


def validate_remote_name(name: str) -> str:
    if not REMOTE_NAME.fullmatch(name or ""):
        raise UsageError(f"invalid remote name '{name}'",
                         "use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit")
    return name


def validate_url(url: str) -> str:
    if not url.strip():
        raise UsageError("the remote URL is empty", "give a local path, file:///path or s3://bucket/prefix")
    if not url.isprintable():
        raise UsageError(f"the remote URL {quote_path(url)} contains a line break or another control character",
                         "type the path or URL without them")
    if url.startswith("s3://"):
        if not S3_URL.fullmatch(url):
            raise UsageError(f"'{url}' is not a valid S3 URL",
                             "use s3://bucket or s3://bucket/prefix (bucket: 3-63 lower-case letters, digits, '.', '-')")
    elif "://" in url and not url.startswith("file://"):
        raise UsageError(f"unsupported remote URL '{url}'", "use a local path, file:///path or s3://bucket/prefix")
    return url


@dataclass(frozen=True)
class RemoteSpec:
    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)
    committed: frozenset[str] = frozenset()  # options (and 'url') whose value comes from .mlvconfig
    approved: str | None = None              # mlv.remote.<name>.trusted: what the user approved

    def check_trust(self) -> None:
        """UntrustedRemote unless the committed settings that pick where credentials go
        were approved as they are (gitext/trust.py)."""
        from gitext.trust import check

        check(self.name, self.url, self.options, self.committed, self.approved)


@dataclass(frozen=True)
class Config:
    remotes: dict[str, RemoteSpec]
    default_remote: str | None
    settings: dict[str, str]  # the merged git config (all scopes)
    shared: dict[str, str] = field(default_factory=dict)  # the committed .mlvconfig, as read (untrusted)

    def remote(self, name: str | None = None) -> RemoteSpec:
        chosen = name or os.environ.get("MLV_REMOTE") or self.default_remote
        if not chosen:
            if len(self.remotes) == 1:
                return next(iter(self.remotes.values()))
            if not self.remotes:
                raise ConfigError("no git mlv remote is configured",
                                  "add one: git mlv remote add -d storage PATH-OR-s3://BUCKET")
            raise ConfigError("no default git mlv remote is set and there are several",
                              f"pick one: git mlv remote default {sorted(self.remotes)[0]}")
        if chosen not in self.remotes:
            raise ConfigError(f"no git mlv remote named '{chosen}'",
                              "see 'git mlv remote list'; add it with 'git mlv remote add NAME URL'")
        return self.remotes[chosen]

    def get(self, key: str, default: str | None = None) -> str | None:
        env = "MLV_" + key.removeprefix("mlv.").replace(".", "_").upper()
        if env in os.environ:
            return os.environ[env]
        return self.settings.get(key.lower(), default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        return parse_bool(self.get(key), default, key, f"git config {key} true|false")

    def get_int(self, key: str, default: int) -> int:
        return parse_count(self.get(key), default, key, f"git config {key} 8")

    def get_size(self, key: str, default: int) -> int:
        return parse_size(self.get(key), default, key, f"git config {key} 64MiB")

    def large_file_size(self) -> int:
        """Objects this large or larger never pass through git's memory (mlv.largefilesize)."""
        return self.get_size("mlv.largefilesize", DEFAULT_LARGE_FILE_SIZE)

    def linktype(self) -> str:
        """How the working tree gets bytes from the cache (gitext/linking.py): auto (reflink,
        else copy), or reflink / hardlink / copy, alone or comma-separated (tried in order)."""
        from gitext.linking import AUTO, parse_linktype

        methods = parse_linktype(self.get("mlv.linktype"))
        return "auto" if methods == AUTO else ",".join(methods)

    def jobs(self, store_name: str, default: int, requested: int | None = None) -> int:
        """Parallel transfers: --jobs, else the remote's 'jobs' option, else mlv.jobs, else ``default``."""
        if requested is not None:
            if requested < 1:
                raise UsageError("--jobs must be at least 1")
            return requested
        spec = self.remotes.get(store_name)
        if spec is not None and spec.options.get("jobs"):
            return parse_count(spec.options["jobs"], default, f"remote '{store_name}' jobs",
                               f"git mlv remote modify {store_name} jobs 8")
        return self.get_int("mlv.jobs", default)


def load_config(repo: Repo) -> Config:
    shared = shared_settings(repo)
    settings = gitconfig.read_all(cwd=repo.cwd)
    remotes: dict[str, dict[str, str]] = {}
    committed: dict[str, set[str]] = {}
    for source, prefix in ((shared, "remote."), (settings, "mlv.remote.")):
        for key, value in source.items():
            if not key.startswith(prefix):
                continue
            _section, name, option = split_key(key.removeprefix("mlv." if prefix.startswith("mlv.") else ""))
            if not name:
                continue
            option = remote_option(option) or option
            if source is shared and option in SECRET_KEYS:
                warn(f"ignoring {key} in {MLVCONFIG}: secrets belong in .git/config "
                     f"(git mlv remote modify --local {name} {option} ...)")
                continue
            if source is shared and option == "trusted":
                continue  # an approval is the user's, never the committed file's
            remotes.setdefault(name, {})[option] = value
            origin = committed.setdefault(name, set())
            (origin.add if source is shared else origin.discard)(option)
    specs = {}
    for name, options in remotes.items():
        url = options.pop("url", None)
        approved = options.pop("trusted", None)
        if url:
            specs[name] = RemoteSpec(name, url, options, frozenset(committed[name]), approved)
    default = settings.get("mlv.core.remote") or shared.get("core.remote") or None
    return Config(remotes=specs, default_remote=default, settings=settings, shared=shared)


class ConfigWriter:
    """Writes .mlvconfig (shared) or .git/config under mlv.* (``local``)."""

    def __init__(self, repo: Repo, local: bool) -> None:
        self.repo = repo
        self.local = local
        root = repo.require_worktree()
        path = os.path.join(root, MLVCONFIG)
        if not local and os.path.islink(path):
            raise ConfigError(f"{MLVCONFIG} is a symbolic link, and git mlv never writes through one",
                              f"replace it by a regular file (git rm --cached {MLVCONFIG}; rm {MLVCONFIG}), "
                              "or use --local to write .git/config")
        self.target = gitconfig.Target(scope="local") if local else gitconfig.Target(file=path)

    def key(self, key: str) -> str:
        return f"mlv.{key}" if self.local else key

    def set(self, key: str, value: str) -> None:
        gitconfig.set_value(self.key(key), value, self.target, cwd=self.repo.cwd)

    def unset(self, key: str) -> None:
        gitconfig.unset(self.key(key), self.target, cwd=self.repo.cwd)

    def remove_section(self, section: str) -> None:
        gitconfig.remove_section(self.key(section), self.target, cwd=self.repo.cwd)


def configured_files(repo: Repo, kind: str, default: list[str]) -> list[str]:
    """``mlv.core.<kind>`` from git config, else ``core.<kind>`` from .mlvconfig (each
    multi-valued), else ``default``."""
    key = f"core.{kind}"
    values = gitconfig.get_all(f"mlv.{key}", cwd=repo.cwd)
    if not values and repo.root:
        path = os.path.join(repo.root, MLVCONFIG)
        if shared_file(path):
            values = gitconfig.get_all(key, gitconfig.Target(file=path), cwd=repo.cwd)
            if not values:
                read_mlvconfig(path)  # a broken file says so instead of silently meaning 'default'
    files = [v.strip().strip("/") for v in values if v.strip()]
    return list(dict.fromkeys(files)) or default
