"""A newcomer's walk through README.md and docs/commands/demo.md (issue 17 item 5).

Each test takes a fresh clone of this repository (with the working tree's
uncommitted changes and new files that git does not ignore copied in: the clone
a newcomer would get once they are committed, so that an edit is walked before
it is committed, as the rest of the suite tests the working tree), a fresh
venv (``--without-pip --system-site-packages``: 0.1 s, where ensurepip takes 3 s;
the dependencies are the test run's), and the isolated HOME of tests/conftest.py,
then runs every fenced block of one doc *as the doc has it*: the blocks are read
from the clone's markdown at test time, so the walk follows the docs when they
change. git-mlv gets into the venv by the README's own ``./install.sh``, whose
``pip install .`` is replaced by a stand-in that copies what pyproject.toml lists
(building a wheel needs the network, or a setuptools that can build one offline,
which neither this machine's nor CI's need have); the demo.md walk installs the
same way. The git-mlv that runs is the clone's, from the venv's bin, first on PATH.

How a block runs: as one ``bash -e`` script, line by line, starting in the
directory the previous block of the same doc ended in (the clone's root for
the first: "From a clone of this repository"), the way a terminal keeps its
directory (environment variables set in a block are not carried over). Each
line's exit status is checked (an ``a && b`` line whose ``a`` fails counts as
failed; bash -e alone would go on); a ``console`` block runs its ``$`` lines
and compares each one's output with the output shown under it (``...`` stands
for any lines; the demo's temp dir for any such dir under the walk's TMPDIR).

The README's onboarding paragraph is walked too, after its blocks: the `git ...`
spans of running text that a newcomer types next (PROSE_STEPS, with its
placeholders filled in; PROSE_NOT_RUN says why the others are not run).

What a block claims is checked too: a trailing ``# comment`` on a command line
is a claim and needs an entry in CLAIMS (a check, or why it is not checked),
and AFTER holds the checks of what a block's surrounding text promises.

A block that cannot run as written has an entry in SPECIAL saying what is done
instead and why. A block that is neither run nor listed, a comment line or a
claim without an entry, and an entry that no longer matches the docs, all fail
the test: a new doc block cannot slip past untested.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import git

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/commands/demo.md")
SHELL_LANGS = {"sh", "bash", "shell", "console"}
BLOCK_TIMEOUT = 120


# -- what does not run exactly as written ------------------------------------------------------

@dataclass(frozen=True)
class Special:
    why: str
    replace: dict[str, str] = field(default_factory=dict)  # command line (comment left out) -> what runs
    run: str | None = None            # the whole block replaced by this command
    first_command_only: bool = False  # console: the first '$' line is the command, the rest its output
    env: dict[str, str] = field(default_factory=dict)
    xfail: str | None = None          # a code bug: the block is expected to fail (the walk goes on)


# Keyed by (doc, the block's first line without its trailing comment). Every other
# fenced block of DOCS runs exactly as written.
SPECIAL: dict[tuple[str, str], Special] = {
    ("README.md", "./install.sh && git mlv demo"): Special(
        "'./install.sh' runs as written, with PYTHON set to a wrapper of the venv's python whose "
        "'-m pip install .' is _pip_install_standin (pip would build a wheel: network, or a "
        "setuptools able to build one offline, which CI's python need not have). "
        "'./install.sh --test' is left out: it installs the test needs from the network and runs "
        "the whole suite, this test included (CI runs exactly that: .ci/run)",
        replace={"./install.sh --test": ""}, env={"PYTHON": "{python_wrapper}"}),
    ("README.md", "mkdir demo && cd demo && git init && git mlv install"): Special(
        "the comment line stands for the reader's own data: the walk copies in three CSV files",
        replace={"# ... data/projects.csv, data/tags.csv, data/labeled_projects.csv exist":
                 "mkdir -p data && cp {data}/*.csv data/"}),
    ("docs/commands/demo.md", "git mlv demo [--keep]"): Special(
        "a synopsis, not a command: the walk runs 'git mlv demo -h' and checks its usage line against it",
        run="git mlv demo -h"),
    ("docs/commands/demo.md", "$ git mlv demo"): Special(
        "one command: the demo prints each of its steps as '$ COMMAND', so the other '$' lines are output",
        first_command_only=True),
}

# -- what the docs claim --------------------------------------------------------------------------

Check = Callable[["Walk", str], None]


def check_setup(walk: Walk, out: str) -> None:
    mlv = walk.venv / "bin" / "git-mlv"
    assert mlv.is_file(), "install.sh put no git-mlv into the venv"
    assert shutil.which("git-mlv", path=walk.env["PATH"]) == str(mlv)
    where = run_out([str(walk.venv / "bin" / "python"), "-c", "import gitext; print(gitext.__file__)"],
                    walk.tmp, walk.env)
    assert where.startswith(str(walk.venv)), f"the venv imports gitext from {where}, not its own copy"
    version = run_out([str(mlv), "version"], walk.tmp, walk.env).strip()
    assert f"git-mlv installed: {version}\n" in out
    # ... then run the quick-start below in a temp dir, step by step
    assert out.rstrip().endswith("demo finished: every step above ran for real."), "the demo did not finish"
    found = re.search(rf"^git mlv demo in ({re.escape(str(walk.tmpdir))}/git-mlv-demo-\w+): ", out, re.M)
    assert found, "the demo did not say it runs in a temp dir under $TMPDIR"
    assert not Path(found[1]).exists(), "the demo left its temp dir behind"
    steps = [_same_step(line[2:]) for line in out.splitlines() if line.startswith("$ ")]
    quick_start = walk.blocks[walk.blocks.index(walk.block) + 1]
    wanted = [_same_step(c) for c in (split_comment(line)[0] for line in quick_start.lines) if c]
    left = iter(steps)
    missing = [w for w in wanted if not any(s == w for s in left)]
    assert not missing, f"the README says the demo runs the quick start; it does not run {missing} (in order)"


def _same_step(command: str) -> str:
    """A demo step and a quick-start line are the same step up to -q and 'git init -b main'."""
    return " ".join(re.sub(r" -q\b| -b main\b", "", command).split())


def check_pointer_shown(walk: Walk, out: str) -> None:
    data = walk.data[walk.command.split(":", 1)[1]]
    assert out == f"mlv: 1\nmd5: {md5(data)}\nsize: {len(data)}\n"


def check_pushed(walk: Walk, out: str) -> None:
    assert re.match(rf"{len(walk.data)} objects pushed to 'storage' \(", out), out
    for path, data in walk.data.items():
        stored = walk.cwd / "stores" / "blob" / md5(data)[:2] / md5(data)[2:]
        assert stored.is_file() and stored.read_bytes() == data, f"{path} is not in the store as {stored}"


def check_pulled(walk: Walk, out: str) -> None:
    assert f"{len(walk.data)} files written" in out, out
    for path, data in walk.data.items():
        assert (walk.cwd / path).read_bytes() == data, f"{path} is not byte-identical after the pull"
    assert run_out(["git", "status", "--porcelain"], walk.cwd, walk.env) == "", "git status is not clean"


# Keyed by (doc, command line): (its trailing comment as written, its check or why it has none).
CLAIMS: dict[tuple[str, str], tuple[str, Check | str]] = {
    ("README.md", "./install.sh && git mlv demo"):
        ("install git-mlv, then run the quick-start below in a temp dir, step by step", check_setup),
    ("README.md", "git mlv remote add -d storage stores/blob"):
        ("or s3://bucket/prefix", "the other choice; the walk has no S3 (S3 workflows: test_s3_workflow.py)"),
    ("README.md", "git show HEAD:data/projects.csv"): ("mlv: 1 / md5: ... / size: ...", check_pointer_shown),
    ("README.md", "git mlv push"): ("3 objects pushed; stores/blob/<md5[:2]>/<md5[2:]>", check_pushed),
    ("README.md", "rm data/*.csv && git mlv pull"): ("files back, byte-identical; git status clean", check_pulled),
}


def after_quick_start(walk: Walk, out: str) -> None:
    """Pointers committed, the cache where 'What is where' says, git running the venv's git-mlv."""
    for path, data in walk.data.items():
        blob = run_out(["git", "cat-file", "-p", f"HEAD:{path}"], walk.cwd, walk.env)
        assert blob == f"mlv: 1\nmd5: {md5(data)}\nsize: {len(data)}\n", f"HEAD:{path} is not its pointer"
        assert (walk.cwd / ".git" / "mlv" / "cache" / md5(data)[:2] / md5(data)[2:]).is_file()
    process = run_out(["git", "config", "filter.mlv.process"], walk.cwd, walk.env)
    assert str(walk.venv) in process, f"git runs {process.strip()}, not the venv's git-mlv"


def check_fix_named(walk: Walk, out: str) -> None:
    assert "git mlv remote modify --local storage url" in out, "the failed pull does not name the fix"


def check_teammate_pull(walk: Walk, out: str) -> None:
    assert re.match(rf"{len(walk.data)} objects fetched from 'storage'", out), out
    check_pulled(walk, out)


def after_synopsis(walk: Walk, out: str) -> None:
    usage = out.splitlines()[0]
    assert usage.replace(" [-h]", "") == "usage: " + walk.block.lines[0].strip(), usage


def after_demo(walk: Walk, out: str) -> None:
    assert not list(walk.tmpdir.glob("git-mlv-demo-*")), "without --keep the temp dir is deleted"
    assert home_snapshot(walk.home) == walk.home_before, "the demo wrote outside its temp dir (in HOME)"


def after_demo_keep(walk: Walk, out: str) -> None:
    said = re.search(r"^kept (\S+)$", out, re.M)
    assert said, "the demo did not say which directory it kept"
    kept = Path(said[1])
    assert kept.parent == walk.tmpdir and (kept / "demo" / ".git").is_dir() and (kept / "copy" / ".git").is_dir()
    shutil.rmtree(kept)


# Keyed by (doc, block's first line): checks of what the text around a block promises.
AFTER: dict[tuple[str, str], Check] = {
    ("README.md", "mkdir demo && cd demo && git init && git mlv install"): after_quick_start,
    ("docs/commands/demo.md", "git mlv demo [--keep]"): after_synopsis,
    ("docs/commands/demo.md", "$ git mlv demo"): after_demo,
    ("docs/commands/demo.md", "$ git mlv demo --keep | tail -2"): after_demo_keep,
}

# The README's onboarding paragraph: commands in running text that a newcomer types
# right after the quick start. Each `git ...` span of it is a step here or in PROSE_NOT_RUN.
ONBOARDING = "Onboarding a teammate:"


@dataclass(frozen=True)
class ProseStep:
    text: str                  # as written in the paragraph
    subst: dict[str, str]      # placeholder -> what the walk uses
    rc: int = 0
    cwd: str | None = None     # where the step starts; else where the previous one ended
    check: Check | None = None
    again: bool = False        # not a span of its own: the end of an earlier step's span, run again


PROSE_STEPS = [
    # URL: the quick start's repository; repo: the directory its clone gets. A teammate
    # works elsewhere. The pull fails as the next sentence says (the quick start's store
    # is inside the first repository) and names the fix, which is the next step.
    ProseStep("git clone URL && cd repo && git mlv install && git mlv pull",
              {"URL": "{clone}/demo", "cd repo": "cd demo"}, rc=1, cwd="{teammate}", check=check_fix_named),
    ProseStep("git mlv remote modify --local storage url /path/to/demo/stores/blob",
              {"/path/to/demo": "{clone}/demo"}),
    # the first span's last command again, now that the clone points at the store
    ProseStep("git mlv pull", {}, check=check_teammate_pull, again=True),
]
PROSE_NOT_RUN = {
    "git mlv remote trust storage": "only for a custom S3 endpoint; the walk has no S3",
    "git checkout other-branch": "the quick start makes no branch; demo.md's walk switches branches",
    "git checkout HEAD~1 -- data/x.csv": "the quick start makes one commit; demo.md's walk checks out "
                                         "data/projects.csv from HEAD~1",
    "git push": "the teammate has nothing new to push",
}


# What the demo's temp dir looks like in the docs, and what it is in the walk.
DOC_TMP = re.compile(r"/tmp/git-mlv-demo-\w{8}")


# -- reading the docs ----------------------------------------------------------------------------

@dataclass
class Block:
    doc: str
    lineno: int
    lang: str
    lines: list[str]

    @property
    def key(self) -> str:
        first = next((line for line in self.lines if line.strip()), "")
        return " ".join(split_comment(first)[0].split()) or first.strip()

    def where(self) -> str:
        return f"{self.doc}:{self.lineno} block '{self.key}'"


@dataclass
class Command:
    text: str                       # what runs
    doc_line: str                   # the line as written
    comment: str = ""               # its trailing comment: a claim
    shown: list[str] | None = None  # console: the output the doc shows
    rc: int = 0


def fenced_blocks(doc: str, text: str) -> list[Block]:
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = re.match(r"^( {0,3})(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence)), None)
        assert end is not None, f"{doc}:{i + 1}: unterminated fenced block"
        body = [line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:end]]
        blocks.append(Block(doc, i + 1, lang.lower(), body))
        i = end + 1
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """'cmd   # claim' -> ('cmd', 'claim'): the first '#' starting a word outside quotes."""
    for m in re.finditer(r"(?:^|\s)#", line):
        before = line[:m.start()]
        try:
            shlex.split(before)
        except ValueError:   # inside quotes
            continue
        return before.strip(), line[m.end():].strip()
    return line.strip(), ""


def commands_of(block: Block, special: Special | None, fill: Callable[[str], str]) -> list[Command]:
    """The block's command lines, with SPECIAL's replacements (their {places} filled in)."""
    if special and special.run:
        return [Command(fill(special.run), block.lines[0])]
    if block.lang == "console":
        return _console_commands(block, special)
    commands, replaced = [], set()
    for line in block.lines:
        if not line.strip():
            continue
        command, comment = split_comment(line)
        key = command or line.strip()
        if special and key in special.replace:
            replaced.add(key)
            if special.replace[key]:
                commands.append(Command(fill(special.replace[key]), line))
            continue
        assert command, (f"{block.where()}: the comment line {line.strip()!r} stands for something the reader "
                         "does: add to SPECIAL what the walk does instead")
        commands.append(Command(command, line, comment))
    unused = set(special.replace if special else {}) - replaced
    assert not unused, f"{block.where()}: SPECIAL replaces lines it no longer has: {unused}"
    return commands


def _console_commands(block: Block, special: Special | None) -> list[Command]:
    commands: list[Command] = []
    shown: list[list[str]] = []
    for line in block.lines:
        if line.startswith("$ ") and not (special and special.first_command_only and commands):
            text, comment = split_comment(line[2:])
            shown.append([])
            commands.append(Command(text, line, comment, shown=shown[-1]))
        else:
            assert commands, f"{block.where()}: output before the first '$ ' line"
            shown[-1].append(line)
    for lines in shown:
        while lines and not lines[-1].strip():
            lines.pop()
    return commands


def paragraph(text: str, start: str) -> str:
    para = next((p for p in re.split(r"\n\s*\n", text) if p.lstrip().startswith(start)), None)
    assert para is not None, f"README.md has no paragraph starting {start!r}: update ONBOARDING and PROSE_STEPS"
    return para


# -- running them ----------------------------------------------------------------------------------

class BlockFailed(AssertionError):
    pass


@dataclass
class Walk:
    tmp: Path
    doc: str
    clone: Path = field(init=False)
    venv: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    places: dict[str, str] = field(init=False)
    tmpdir: Path = field(init=False)
    home: Path = field(init=False)
    cwd: Path = field(init=False)
    state: Path = field(init=False)
    data: dict[str, bytes] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    block: Block = field(init=False)      # the one running
    command: str = ""
    xfailed: list[str] = field(default_factory=list)
    home_before: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.clone = fresh_clone(self.tmp / "clone")
        self.venv = self.tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(self.venv)],
                       check=True)
        # The dependencies are those of the Python running the tests, also when that is a
        # venv itself (whose packages --system-site-packages does not reach). Appended to
        # sys.path, after the venv's own site-packages: the venv's gitext comes first.
        site_dirs = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
        purelib = run_out([str(self.venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_path('purelib'))"], self.tmp, dict(os.environ))
        Path(purelib.strip(), "_walk_dependencies.pth").write_text("".join(f"{d}\n" for d in site_dirs))
        self.tmpdir = self.tmp / "tmp"
        self.tmpdir.mkdir()
        self.home = Path(os.environ["HOME"])
        # The walk's PATH: the venv first; no pyenv, so install.sh does not 'pyenv rehash'
        # the machine's shims (a directory that also holds git stays).
        path = [d for d in os.environ["PATH"].split(os.pathsep)
                if not (Path(d, "pyenv").exists() and not Path(d, "git").exists())]
        self.env = {**os.environ, "PATH": os.pathsep.join([str(self.venv / "bin"), *path]),
                    "TMPDIR": str(self.tmpdir)}
        self.places = {"clone": str(self.clone), "data": str(self.tmp / "userdata"),
                       "teammate": str(self.tmp / "teammate"), "python_wrapper": str(self._python_wrapper())}
        (self.tmp / "teammate").mkdir()
        self.cwd = self.clone
        self.state = self.tmp / "walk-cwd"

    def _python_wrapper(self) -> Path:
        standin = self.tmp / "pip_standin.py"
        standin.write_text(inspect.getsource(_pip_install_standin) + "\n\n_pip_install_standin()\n")
        wrapper = self.tmp / "python3"
        py = shlex.quote(str(self.venv / "bin" / "python"))
        wrapper.write_text(
            "#!/bin/sh\n# the venv's python, but '-m pip' is the walk's stand-in (no network)\n"
            f'if [ "$1" = -m ] && [ "$2" = pip ]; then exec {py} {shlex.quote(str(standin))} "$@"; fi\n'
            f'exec {py} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def fill(self, text: str, quote: bool = True) -> str:
        return text.format(**{k: shlex.quote(v) if quote else v for k, v in self.places.items()})

    def run(self, block: Block, commands: list[Command], special: Special | None, cwd: str | None = None,
            check: Check | None = None) -> None:
        """Run one block's commands in one bash -e, from where the previous block ended
        (or from cwd), and check them: exit statuses, shown output, claims, then check
        (or the block's AFTER entry)."""
        __tracebackhide__ = True
        self.block = block
        self.home_before = home_snapshot(self.home)
        if cwd:
            self.cwd = Path(self.fill(cwd, quote=False))
        script = [f"cd -- {shlex.quote(str(self.cwd))}",
                  f"trap 'printf %s \"$PWD\" > {shlex.quote(str(self.state))}' EXIT"]
        for n, command in enumerate(commands):
            syntax = subprocess.run(["bash", "-n", "-c", command.text], capture_output=True, text=True)
            assert syntax.returncode == 0, (f"{block.where()}: {command.doc_line.strip()!r} is not a complete "
                                            f"command on its own line (the walk runs line by line): {syntax.stderr}")
            script += [f"printf '@@walk-line {n}@@\\n'", "__walk_rc=0",
                       f"{command.text} || __walk_rc=$?",
                       f"printf '\\n@@walk-rc {n} %d@@\\n' \"$__walk_rc\"",
                       f'[ "$__walk_rc" -eq {command.rc} ] || exit 99']
        env = {**self.env, **{k: self.fill(v, quote=False) for k, v in (special.env if special else {}).items()}}
        try:
            proc = subprocess.run(["bash", "-e", "-c", "\n".join(script)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired as timeout:
            raise BlockFailed(f"{block.where()}: still running after {BLOCK_TIMEOUT} s:\n"
                              + (timeout.output or b"").decode("utf-8", "replace")) from None
        text = proc.stdout.decode("utf-8", "replace")
        if self.state.exists():
            self.cwd = Path(self.state.read_text())
        outputs = {int(n): out for n, out in re.findall(r"@@walk-line (\d+)@@\n(.*?)\n@@walk-rc \1 -?\d+@@\n",
                                                        text, re.S)}
        rcs = {int(n): int(rc) for n, rc in re.findall(r"@@walk-rc (\d+) (-?\d+)@@", text)}
        try:
            self._judge(block, commands, special, proc.returncode, text, outputs, rcs,
                        check if block.lang == "prose" else AFTER.get((block.doc, block.key)))
        except BlockFailed as failed:
            if special and special.xfail:
                self.xfailed.append(f"{block.where()}: {special.xfail}")
                return
            raise failed
        print(f"{block.where()}: ran {'; '.join(c.text for c in commands)} (ended in {self.cwd})")
        if special and special.xfail:
            raise AssertionError(f"{block.where()} is marked xfail ({special.xfail}) but passed: "
                                 "remove its xfail from SPECIAL")

    def _judge(self, block: Block, commands: list[Command], special: Special | None, status: int, text: str,
               outputs: dict[int, str], rcs: dict[int, int], after: Check | None) -> None:
        __tracebackhide__ = True

        def fail(what: str) -> BlockFailed:
            shown = re.sub(r"@@walk-line (\d+)@@\n", lambda m: f"$ {commands[int(m[1])].text}\n", text)
            shown = re.sub(r"\n?@@walk-rc \d+ (-?\d+)@@\n", lambda m: f"[exit {m[1]}]\n", shown)
            return BlockFailed(f"{block.where()}: {what}\n--- the block's output ---\n{shown}")

        for n, command in enumerate(commands):
            if n not in rcs:
                raise fail(f"{command.text!r} did not finish (the script exited {status} before it ended)")
            if rcs[n] != command.rc:
                raise fail(f"{command.text!r} exited {rcs[n]}, expected {command.rc}")
        if status != 0:
            raise fail(f"the block's script exited {status}")
        for n, command in enumerate(commands):
            self.command = command.text
            try:
                if command.shown is not None:
                    compare_shown(self, command.shown, outputs[n])
                claim = claim_of(block.doc, command)
                if callable(claim):
                    claim(self, outputs[n])
            except AssertionError as error:
                raise fail(f"{command.text!r}: {error}") from None
        if after:
            try:
                after(self, "\n".join(outputs.values()))
            except AssertionError as error:
                raise fail(f"what the doc says around it does not hold: {error}") from None


def claim_of(doc: str, command: Command) -> Check | str | None:
    if not command.comment:
        return None
    entry = CLAIMS.get((doc, " ".join(command.text.split())))
    assert entry is not None, (f"{command.doc_line.strip()!r} claims {command.comment!r}: "
                               "add to CLAIMS its check or why it has none")
    assert entry[0] == command.comment, (f"the claim changed from {entry[0]!r} to {command.comment!r}: "
                                         "update its check in CLAIMS")
    return entry[1]


def compare_shown(walk: Walk, shown: list[str], out: str) -> None:
    tmp = re.escape(str(walk.tmpdir)) + r"/git-mlv-demo-[a-z0-9_]{8}"
    patterns = [r"(?:[^\n]*\n)*?" if line.strip() == "..." else
                tmp.join(re.escape(piece) for piece in DOC_TMP.split(line.rstrip())) + r"\n"
                for line in shown]
    got = "\n".join(line.rstrip() for line in out.rstrip().splitlines()) + "\n"
    if re.fullmatch("".join(patterns), got):
        return
    ok = max(k for k in range(len(patterns) + 1) if re.match("".join(patterns[:k]), got))
    done = re.match("".join(patterns[:ok]), got)
    printed = got[done.end() if done else 0:].splitlines()[:6]
    expected = shown[ok] if ok < len(shown) else "(the end)"
    raise AssertionError(f"the output differs from the doc's ('...' lines match any lines): after "
                         f"{ok} matching lines the doc shows\n    {expected}\nbut the command printed\n    "
                         + "\n    ".join(printed or ["(nothing more)"]))


def fresh_clone(dest: Path) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git repository: nothing to clone")
    safe = ("-c", f"safe.directory={ROOT}")  # a checkout owned by another user (CI containers)
    git(dest.parent, *safe, "clone", "-q", str(ROOT), str(dest))
    changed = git(ROOT, *safe, "--no-optional-locks", "diff", "--name-only", "-z", "HEAD").stdout.decode()
    added = git(ROOT, *safe, "ls-files", "-z", "--others", "--exclude-standard").stdout.decode()
    for rel in filter(None, (changed + added).split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
        elif (dest / rel).exists():
            (dest / rel).unlink()
    return dest


def _pip_install_standin() -> None:
    """'python -m pip install [--quiet ...] DIR' for the walk, run by the venv's python: puts
    into the venv what 'pip install DIR' does (the packages and package data that DIR's
    pyproject.toml lists under [tool.setuptools], byte-compiled, and the [project.scripts]
    launchers) without building a wheel. Self-contained: its source is written to a file."""
    import compileall
    import glob
    import os
    import shutil
    import sys
    import sysconfig

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: git-mlv depends on tomli there
        import tomli as tomllib
    quiet = {"--quiet", "-q", "--disable-pip-version-check", "--root-user-action=ignore"}
    args = sys.argv[1:]
    targets = [a for a in args[3:] if a not in quiet]
    if args[:3] != ["-m", "pip", "install"] or len(targets) != 1 or targets[0].startswith("-"):
        sys.exit(f"the walk's pip stand-in cannot do 'python {' '.join(args)}': update _pip_install_standin "
                 "in tests/integration/test_readme_walkthrough.py")
    src = os.path.abspath(targets[0])
    with open(os.path.join(src, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    setup = meta["tool"]["setuptools"]
    if not isinstance(setup.get("packages"), list):
        sys.exit("the walk's pip stand-in reads only a [tool.setuptools] 'packages' list: update it")
    purelib, scripts = sysconfig.get_path("purelib"), sysconfig.get_path("scripts")
    for package in setup["packages"]:
        here = os.path.join(src, setup.get("package-dir", {}).get(package, package.replace(".", "/")))
        dest = os.path.join(purelib, *package.split("."))
        for pattern in ["*.py", *setup.get("package-data", {}).get(package, [])]:
            for path in glob.glob(os.path.join(here, pattern)):
                if os.path.isfile(path):
                    target = os.path.join(dest, os.path.relpath(path, here))
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(path, target)
    for top in {package.split(".")[0] for package in setup["packages"]}:
        compileall.compile_dir(os.path.join(purelib, top), quiet=1)
    for name, entry in meta["project"].get("scripts", {}).items():
        module, func = entry.split(":")
        with open(os.path.join(scripts, name), "w") as f:
            f.write(f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        os.chmod(os.path.join(scripts, name), 0o755)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def run_out(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def home_snapshot(home: Path) -> set[tuple[str, int]]:
    return {(str(p.relative_to(home)), p.stat().st_mtime_ns) for p in home.rglob("*") if not p.is_symlink()}


def write_user_data(walk: Walk) -> None:
    """The three CSV files the quick start's comment line says exist (names from that line)."""
    special = SPECIAL[("README.md", "mkdir demo && cd demo && git init && git mlv install")]
    names = re.findall(r"data/[\w.-]+\.csv", next(iter(special.replace)))
    assert names, "the quick start's data comment names no files"
    folder = Path(walk.places["data"])
    folder.mkdir()
    for n, name in enumerate(names):
        rows = "".join(f"{i},{Path(name).stem} {i * 7919 % 10007},{'abcde'[i % 5]},{i % 97 / 97:.6f}\n"
                       for i in range(2500 + 100 * n))
        walk.data[name] = ("id,title,tag,score\n" + rows).encode()
        (folder / Path(name).name).write_bytes(walk.data[name])


# -- the walk ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", DOCS)
def test_walkthrough(doc: str, tmp_path: Path) -> None:
    walk = Walk(tmp_path, doc)
    text = (walk.clone / doc).read_text()
    walk.blocks = fenced_blocks(doc, text)
    keys = {block.key for block in walk.blocks}
    stale = [key for table in (SPECIAL, AFTER) for d, key in table if d == doc and key not in keys]
    assert not stale, f"{doc}: SPECIAL/AFTER entries for blocks it no longer has: {stale}"
    if doc == "README.md":
        write_user_data(walk)
    else:  # one reads demo.md after the README's set-up: git-mlv is installed
        subprocess.run([walk.places["python_wrapper"], "-m", "pip", "install", "--quiet", str(walk.clone)],
                       check=True, cwd=walk.clone, env=walk.env)

    claims: set[tuple[str, str]] = set()
    for block in walk.blocks:
        special = SPECIAL.get((doc, block.key))
        assert block.lang in SHELL_LANGS or special, (
            f"{block.where()} ({block.lang or 'no language'}) is neither a shell block the walk runs nor in SPECIAL")
        commands = commands_of(block, special, walk.fill)
        claims |= {(doc, " ".join(c.text.split())) for c in commands if c.comment}
        walk.run(block, commands, special)
    unclaimed = [key[1] for key in CLAIMS if key[0] == doc and key not in claims]
    assert not unclaimed, f"{doc}: CLAIMS for command lines it no longer has: {unclaimed}"

    if doc == "README.md":
        onboarding = paragraph(text, ONBOARDING)
        spans = [span for span in re.findall(r"`([^`]+)`", onboarding) if span.startswith("git ")]
        steps = [step.text for step in PROSE_STEPS if not step.again]
        for span in spans:
            assert span in PROSE_NOT_RUN or span in steps, (
                f"README.md's onboarding: `{span}` is neither in PROSE_STEPS nor in PROSE_NOT_RUN")
        gone = [span for span in [*PROSE_NOT_RUN, *steps] if span not in spans]
        gone += [step.text for step in PROSE_STEPS if step.again and not any(s.endswith(step.text) for s in steps)]
        assert not gone, f"README.md's onboarding no longer has {gone}: update PROSE_STEPS/PROSE_NOT_RUN"
        lineno = text[:text.index(ONBOARDING)].count("\n") + 1
        for step in PROSE_STEPS:
            command = step.text
            for placeholder, value in step.subst.items():
                command = command.replace(placeholder, walk.fill(value))
            walk.run(Block(doc, lineno, "prose", [step.text]), [Command(command, step.text, rc=step.rc)], None,
                     cwd=step.cwd, check=step.check)

    if walk.xfailed:
        pytest.xfail("blocks that fail because of known bugs: " + "; ".join(walk.xfailed))
