"""What each tool runs in each phase: the real workflow a user of that tool types.

Every method returns the commands of one phase (timed by the caller) or of
an untimed set-up step. Paths: ``c.repo`` (the working repository), ``c.clone``
(a fresh clone), ``c.remote_git`` (a bare repository on the remote filesystem,
reached as ``file://``), ``c.store`` (the tool's local object store there).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import LFS_PROCESS_WRAPPED, Cmd
from workloads import MiB, Workload

MSG_INIT, MSG_V1, MSG_V2 = "init", "data v1", "data v2"


@dataclass
class Case:
    work: Workload
    tool: str
    local: Path        # on the repositories' filesystem
    remote: Path       # on the remote filesystem
    repeat: int
    bucket: str = ""
    endpoint: str = ""

    @property
    def repo(self) -> Path:
        return self.local / "repo"

    @property
    def clone(self) -> Path:
        return self.local / "clone"

    @property
    def remote_git(self) -> Path:
        return self.remote / "origin.git"

    @property
    def url(self) -> str:
        return "file://" + str(self.remote_git)

    @property
    def store(self) -> Path:
        return self.remote / "store"


def git(c: Case, *args: str, cwd: Path | None = None) -> Cmd:
    return Cmd(["git", *args], cwd or c.repo)


def init_repos(c: Case) -> list[Cmd]:
    return [Cmd(["git", "init", "-q", str(c.repo)], c.local),
            Cmd(["git", "init", "-q", "--bare", str(c.remote_git)], c.local),
            git(c, "remote", "add", "origin", c.url)]


class Tool:
    name = ""
    label = ""
    s3 = False          # has S3 phases
    git_based = True    # phases run git (so `git status` is meaningful)
    links = False       # its working-tree files must be hard links to its cache (checked after clone and switch)
    cache_cmd: tuple[str, ...] | None = None  # prints the cache directory (run in the repository); None: no disk measured

    def object_rel(self, md5: str) -> str:
        """Where the cache keeps the object of these bytes, relative to the cache directory."""
        raise NotImplementedError

    def link_min_size(self, c: Case) -> int:
        """Files this size or larger must be hard links when ``links`` (smaller ones may be copies)."""
        return 0

    # ---- local phases
    def setup(self, c: Case) -> list[Cmd]:
        raise NotImplementedError

    def add(self, c: Case) -> list[Cmd]:
        return [git(c, "add", "data"), git(c, "commit", "-q", "-m", MSG_V1)]

    def status(self, c: Case) -> list[Cmd] | None:
        return [git(c, "status")]

    def push(self, c: Case) -> list[Cmd]:
        return [git(c, "push", "-q", "origin", "main")]

    def clone(self, c: Case) -> list[Cmd]:
        return [Cmd(["git", "clone", "-q", c.url, str(c.clone)], c.local)]

    def branch(self, c: Case) -> list[Cmd]:
        """Untimed, before add2: start branch v2."""
        return [git(c, "checkout", "-q", "-b", "v2")]

    def add2(self, c: Case) -> list[Cmd]:
        return [git(c, "add", "data"), git(c, "commit", "-q", "-m", MSG_V2)]

    def push2(self, c: Case) -> list[Cmd]:
        return [git(c, "push", "-q", "origin", "v2")]

    def to_main(self, c: Case) -> list[Cmd]:
        """Untimed, before switch: back to v1."""
        return [git(c, "checkout", "-q", "main")]

    def switch(self, c: Case) -> list[Cmd]:
        return [git(c, "checkout", "-q", "v2")]

    # ---- S3 phases (the repository's default remote is an S3 bucket)
    def s3_setup(self, c: Case) -> list[Cmd]:
        raise NotImplementedError

    def s3push(self, c: Case) -> list[Cmd]:
        return self.push(c)

    def s3pull(self, c: Case) -> list[Cmd]:
        return self.clone(c)


class Mlv(Tool):
    name, label, s3 = "mlv", "git mlv", True
    cache_cmd = ("git", "mlv", "cache", "dir")

    def object_rel(self, md5: str) -> str:
        return f"{md5[:2]}/{md5[2:]}"

    def setup(self, c: Case) -> list[Cmd]:
        return init_repos(c) + [
            git(c, "mlv", "install"),
            git(c, "mlv", "remote", "add", "-d", "store", str(c.store)),
            git(c, "add", ".mlvconfig"),
            git(c, "commit", "-q", "-m", MSG_INIT),
        ]

    def add(self, c: Case) -> list[Cmd]:
        return [git(c, "mlv", "track", "*.bin"),
                git(c, "add", ".gitattributes", "data"),
                git(c, "commit", "-q", "-m", MSG_V1)]

    def clone(self, c: Case) -> list[Cmd]:
        # the documented onboarding: git clone URL && cd repo && git mlv install && git mlv pull
        return [Cmd(["git", "clone", "-q", c.url, str(c.clone)], c.local),
                git(c, "mlv", "install", cwd=c.clone),
                git(c, "mlv", "pull", cwd=c.clone)]

    def s3pull(self, c: Case) -> list[Cmd]:
        # a committed endpointurl waits for the user's approval on each machine (gitext/trust.py)
        return [Cmd(["git", "clone", "-q", c.url, str(c.clone)], c.local),
                git(c, "mlv", "install", cwd=c.clone),
                git(c, "mlv", "remote", "trust", "s3", cwd=c.clone),
                git(c, "mlv", "pull", cwd=c.clone)]

    def s3_setup(self, c: Case) -> list[Cmd]:
        return init_repos(c) + [
            git(c, "mlv", "install"),
            git(c, "mlv", "remote", "add", "-d", "s3", f"s3://{c.bucket}/mlv"),
            git(c, "mlv", "remote", "modify", "s3", "endpointurl", c.endpoint),
            git(c, "add", ".mlvconfig"),
            git(c, "commit", "-q", "-m", MSG_INIT),
        ]


def hardlink_largefilesize(c: Case) -> int:
    """mlv.largefilesize of the hardlink variant: 1 MiB at full size (× --scale, at least 4 KiB).

    git mlv links only the files it writes itself, those of mlv.largefilesize (64 MiB by
    default) or more: git's own smudge writes the smaller ones as bytes. W3's 10 MiB
    files would all be copies at the default, so the variant lowers it, as
    docs/configuration.md says to ("lower it to link more")."""
    return max(4096, int(MiB * float(c.work.params.get("scale", 1.0))))


class MlvHardlink(Mlv):
    """git mlv with `mlv.linktype hardlink` (and mlv.largefilesize 1 MiB, so W3's files are links too).

    Both are git config, not .mlvconfig: set in the repository at set-up, and in the
    clone by `git clone -c` (written into the clone's .git/config before its checkout).
    Below --scale 1 the harness exports MLV_LARGEFILESIZE (64 MiB × scale), which
    overrides git config, so every command of this tool gets the variant's value in
    MLV_LARGEFILESIZE too."""
    name, label, s3 = "mlv-hardlink", "git mlv (hardlink)", False
    links = True

    def link_min_size(self, c: Case) -> int:
        return hardlink_largefilesize(c)

    def _settings(self, c: Case) -> list[tuple[str, str]]:
        return [("mlv.linktype", "hardlink"), ("mlv.largefilesize", str(hardlink_largefilesize(c)))]

    def _env(self, c: Case, cmds: list[Cmd] | None) -> list[Cmd] | None:
        if float(c.work.params.get("scale", 1.0)) != 1.0:
            for cmd in cmds or []:
                cmd.env = {"MLV_LARGEFILESIZE": str(hardlink_largefilesize(c)), **cmd.env}
        return cmds

    def setup(self, c: Case) -> list[Cmd]:
        return self._env(c, super().setup(c) + [git(c, "config", k, v) for k, v in self._settings(c)])

    def clone(self, c: Case) -> list[Cmd]:
        configs = [arg for k, v in self._settings(c) for arg in ("-c", f"{k}={v}")]
        return self._env(c, [Cmd(["git", "clone", "-q", *configs, c.url, str(c.clone)], c.local),
                             git(c, "mlv", "install", cwd=c.clone),
                             git(c, "mlv", "pull", cwd=c.clone)])

    def add(self, c: Case) -> list[Cmd]:
        return self._env(c, super().add(c))

    def status(self, c: Case) -> list[Cmd]:
        return self._env(c, super().status(c))

    def push(self, c: Case) -> list[Cmd]:
        return self._env(c, super().push(c))

    def branch(self, c: Case) -> list[Cmd]:
        return self._env(c, super().branch(c))

    def add2(self, c: Case) -> list[Cmd]:
        return self._env(c, super().add2(c))

    def push2(self, c: Case) -> list[Cmd]:
        return self._env(c, super().push2(c))

    def to_main(self, c: Case) -> list[Cmd]:
        return self._env(c, super().to_main(c))

    def switch(self, c: Case) -> list[Cmd]:
        return self._env(c, super().switch(c))


class Lfs(Tool):
    name, label = "lfs", "git-lfs"

    def setup(self, c: Case) -> list[Cmd]:
        return init_repos(c) + [
            git(c, "lfs", "install", "--local"),
            # the same filter, wrapped in /usr/bin/time to record its peak RSS
            git(c, "config", "--local", "filter.lfs.process", LFS_PROCESS_WRAPPED),
            git(c, "commit", "-q", "--allow-empty", "-m", MSG_INIT),
        ]

    def add(self, c: Case) -> list[Cmd]:
        return [git(c, "lfs", "track", "*.bin"),
                git(c, "add", ".gitattributes", "data"),
                git(c, "commit", "-q", "-m", MSG_V1)]

    # clone: plain 'git clone' (the filter is in the global config, as 'git lfs install' leaves it);
    # objects come from <origin>/lfs/objects through git-lfs's standalone file transfer agent.


class Dvc(Tool):
    name, label, s3 = "dvc", "DVC", True
    cache_cmd = ("dvc", "cache", "dir")

    def object_rel(self, md5: str) -> str:
        return f"files/md5/{md5[:2]}/{md5[2:]}"    # DVC 3's cache layout

    def _config(self, c: Case) -> list[Cmd]:
        """Project settings committed in .dvc/config at set-up (the defaults: none)."""
        return []

    def _target(self, c: Case) -> tuple[str, list[str]]:
        """(what dvc add gets, what git add gets afterwards)."""
        if c.work.single_file:
            rel = "data/" + c.work.files[0]
            return rel, [rel + ".dvc", "data/.gitignore"]
        return "data", ["data.dvc", ".gitignore"]

    def _init(self, c: Case) -> list[Cmd]:
        return init_repos(c) + [Cmd(["dvc", "init", "-q"], c.repo)]

    def setup(self, c: Case) -> list[Cmd]:
        return self._init(c) + [
            Cmd(["dvc", "remote", "add", "-d", "store", str(c.store)], c.repo),
            *self._config(c),
            git(c, "add", ".dvc", ".dvcignore"),
            git(c, "commit", "-q", "-m", MSG_INIT),
        ]

    def add(self, c: Case) -> list[Cmd]:
        target, staged = self._target(c)
        return [Cmd(["dvc", "add", "-q", target], c.repo), git(c, "add", *staged),
                git(c, "commit", "-q", "-m", MSG_V1)]

    def status(self, c: Case) -> list[Cmd]:
        # a DVC user needs both: git status says nothing about the data
        return [git(c, "status"), Cmd(["dvc", "status", "-q"], c.repo)]

    def push(self, c: Case) -> list[Cmd]:
        return [Cmd(["dvc", "push", "-q"], c.repo), git(c, "push", "-q", "origin", "main")]

    def clone(self, c: Case) -> list[Cmd]:
        return [Cmd(["git", "clone", "-q", c.url, str(c.clone)], c.local), Cmd(["dvc", "pull", "-q"], c.clone)]

    def add2(self, c: Case) -> list[Cmd]:
        target, staged = self._target(c)
        return [Cmd(["dvc", "add", "-q", target], c.repo), git(c, "add", *staged),
                git(c, "commit", "-q", "-m", MSG_V2)]

    def push2(self, c: Case) -> list[Cmd]:
        return [Cmd(["dvc", "push", "-q"], c.repo), git(c, "push", "-q", "origin", "v2")]

    def to_main(self, c: Case) -> list[Cmd]:
        return [git(c, "checkout", "-q", "main"), Cmd(["dvc", "checkout", "-q"], c.repo)]

    def switch(self, c: Case) -> list[Cmd]:
        return [git(c, "checkout", "-q", "v2"), Cmd(["dvc", "checkout", "-q"], c.repo)]

    def s3_setup(self, c: Case) -> list[Cmd]:
        return self._init(c) + [
            Cmd(["dvc", "remote", "add", "-d", "s3", f"s3://{c.bucket}/dvc"], c.repo),
            Cmd(["dvc", "remote", "modify", "s3", "endpointurl", c.endpoint], c.repo),
            git(c, "add", ".dvc", ".dvcignore"),
            git(c, "commit", "-q", "-m", MSG_INIT),
        ]


class DvcHardlink(Dvc):
    """DVC with `dvc config cache.type hardlink`: in .dvc/config, committed with the
    project (so the clone has it before `dvc pull`), as DVC's docs set it. DVC 3 makes
    linked workspace files read-only by itself (`dvc unprotect` to edit them; the old
    `cache.protected` option is gone)."""
    name, label, s3 = "dvc-hardlink", "DVC (hardlink)", False
    links = True

    def _config(self, c: Case) -> list[Cmd]:
        return [Cmd(["dvc", "config", "cache.type", "hardlink"], c.repo)]


class PlainGit(Tool):
    name, label = "git", "plain git"

    def setup(self, c: Case) -> list[Cmd]:
        return init_repos(c) + [git(c, "commit", "-q", "--allow-empty", "-m", MSG_INIT)]


class Floor(Tool):
    """md5sum for the phases that hash, cp for the phases that move bytes."""
    name, label, git_based = "floor", "floor (md5sum / cp)", False

    def setup(self, c: Case) -> list[Cmd]:
        return [Cmd(["mkdir", "-p", str(c.repo), str(c.remote / "v2")], c.local)]

    def add(self, c: Case) -> list[Cmd]:
        return [Cmd("find data -type f -print0 | xargs -0 md5sum > /dev/null", c.repo)]

    def status(self, c: Case) -> None:
        return None

    def push(self, c: Case) -> list[Cmd]:
        return [Cmd(["cp", "-r", "data", str(c.remote / "data")], c.repo)]

    def clone(self, c: Case) -> list[Cmd]:
        return [Cmd(["mkdir", "-p", str(c.clone)], c.local),
                Cmd(["cp", "-r", str(c.remote / "data"), str(c.clone / "data")], c.local)]

    def branch(self, c: Case) -> list[Cmd]:
        return []

    def add2(self, c: Case) -> list[Cmd]:
        return [Cmd(f"xargs -0 md5sum < {c.work.root / 'changed.list0'} > /dev/null", c.repo / "data")]

    def push2(self, c: Case) -> list[Cmd]:
        return [Cmd(f"xargs -0 cp --parents -t {c.remote / 'v2'} < {c.work.root / 'changed.list0'}",
                    c.repo / "data")]

    def to_main(self, c: Case) -> list[Cmd]:
        return [Cmd(f"xargs -0 cp --parents -f -t {c.repo / 'data'} < {c.work.root / 'changed.list0'}", c.work.v1)]

    def switch(self, c: Case) -> list[Cmd]:
        # the changed files, copied from a local copy ("the cache") into the tree
        return [Cmd(f"xargs -0 cp --parents -f -t {c.repo / 'data'} < {c.work.root / 'changed.list0'}", c.work.v2)]


TOOLS: dict[str, Tool] = {t.name: t for t in (Mlv(), Lfs(), Dvc(), PlainGit(), Floor(), MlvHardlink(), DvcHardlink())}
DEFAULT_TOOLS = ["mlv", "lfs", "dvc", "git", "floor"]   # the variants (…-hardlink) only when asked for
