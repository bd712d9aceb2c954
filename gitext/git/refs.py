"""Branches, tags and remotes, through the git binary."""
from __future__ import annotations

from gitext.git.repo import Repo

ZERO_OID = "0" * 40


def _objects(repo: Repo, *patterns: str) -> list[str]:
    out = repo.run(["for-each-ref", "--format=%(objectname)", *patterns])
    return sorted(set(out.decode().split()))


def branch_and_tag_tips(repo: Repo) -> list[str]:
    """Local branches and tags (what 'git push --all --tags' could send)."""
    return _objects(repo, "refs/heads", "refs/tags")


def remote_tracking_tips(repo: Repo, remote: str) -> list[str]:
    return _objects(repo, f"refs/remotes/{remote}")


def git_remotes(repo: Repo) -> list[str]:
    return repo.run(["remote"], check=False).decode().split()


def current_branch(repo: Repo) -> str | None:
    """The checked-out branch's short name; None when HEAD is detached."""
    return repo.run(["symbolic-ref", "--short", "-q", "HEAD"], check=False).decode().strip() or None
