"""git mlv demo: the quick-start workflow, run for real in a temp dir, step by step."""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import tempfile

from gitext.errors import MlvError
from gitext.hooks import mlv_executable
from gitext.output import plural

FILES = ("projects", "tags", "labeled_projects")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    bindir = os.path.dirname(mlv_executable())
    if os.path.isabs(bindir):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    for var, value in (("GIT_AUTHOR_NAME", "git mlv demo"), ("GIT_AUTHOR_EMAIL", "demo@example.com"),
                       ("GIT_COMMITTER_NAME", "git mlv demo"), ("GIT_COMMITTER_EMAIL", "demo@example.com")):
        env.setdefault(var, value)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


class Shell:
    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self.env = _env()

    def run(self, command: str, cwd: str | None = None) -> str:
        print(f"\n$ {command}", flush=True)
        proc = subprocess.run(command, shell=True, cwd=cwd or self.cwd, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        text = proc.stdout.decode("utf-8", "replace")
        if text:
            print("  " + text.rstrip("\n").replace("\n", "\n  "), flush=True)
        if proc.returncode != 0:
            raise MlvError(f"demo step failed (exit {proc.returncode}): {command}",
                           "the output above says why; 'git mlv demo --keep' keeps the directory")
        return text


def _write_csvs(root: str, version: int) -> dict[str, str]:
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    sums = {}
    for name in FILES:
        rng = random.Random(f"{name}-{version}")
        rows = ["id,title,tag,score"] + [f"{i},project {rng.randrange(10**6)},{rng.choice('abcde')},"
                                         f"{rng.random():.6f}" for i in range(2000 + 500 * version)]
        data = ("\n".join(rows) + "\n").encode()
        with open(os.path.join(root, "data", f"{name}.csv"), "wb") as f:
            f.write(data)
        sums[f"data/{name}.csv"] = hashlib.md5(data).hexdigest()
    return sums


def _check(root: str, sums: dict[str, str]) -> None:
    for path, md5 in sums.items():
        with open(os.path.join(root, path), "rb") as f:
            got = hashlib.md5(f.read()).hexdigest()
        if got != md5:
            raise MlvError(f"demo check failed: {path} has md5 {got}, expected {md5}")
    print(f"  (checked: {plural(len(sums), 'file')} byte-identical to what was committed)")


def run_demo(args: argparse.Namespace) -> int:
    base = tempfile.mkdtemp(prefix="git-mlv-demo-")
    sh = Shell(base)
    try:
        print(f"git mlv demo in {base}: DVC's 'version your data' tutorial, the git mlv way")
        sh.run("mkdir demo && cd demo && git init -q -b main && git mlv install")
        demo = os.path.join(base, "demo")
        sh.cwd = demo
        sh.run("echo stores/ >> .gitignore")
        sh.run("git mlv remote add -d storage stores/blob")
        sh.run("git mlv track 'data/*.csv'")
        v1 = _write_csvs(demo, 1)
        print("\n# data/projects.csv, data/tags.csv, data/labeled_projects.csv written (v1)")
        sh.run('git add .gitattributes .gitignore .mlvconfig data/ && git commit -q -m "data v1"')
        sh.run("git show HEAD:data/projects.csv")
        sh.run("git mlv push")
        sh.run("find stores/blob -type f | sort")
        sh.run("rm data/*.csv && git mlv pull")
        _check(demo, v1)
        sh.run("git status --short && echo '(git status: clean)'")

        print("\n# a second version of the data on a branch")
        sh.run("git checkout -q -b more-data")
        v2 = _write_csvs(demo, 2)
        sh.run('git commit -q -am "data v2" && git mlv push')
        sh.run("git checkout -q main && git mlv status")
        _check(demo, v1)
        sh.run("git checkout -q more-data")
        _check(demo, v2)
        sh.run("git checkout HEAD~1 -- data/projects.csv && git status --short")
        _check(demo, {"data/projects.csv": v1["data/projects.csv"]})
        sh.run("git checkout HEAD -- data/projects.csv")

        print("\n# onboarding: a fresh clone (the store is inside the first repo, so point the clone at it)")
        sh.run("git clone -q demo copy", cwd=base)
        copy = os.path.join(base, "copy")
        sh.cwd = copy
        sh.run("git mlv install && git mlv remote modify --local storage url ../demo/stores/blob")
        sh.run("git mlv pull")
        _check(copy, v2)
        sh.run("git mlv ls-files --long")
        print("\ndemo finished: every step above ran for real.")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0
