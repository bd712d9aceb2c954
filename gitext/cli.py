"""Command line: parse, dispatch, map exceptions to exit codes. The only sys.exit
is in __main__/the console script; command modules are imported on demand."""
from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace

from gitext import __version__
from gitext.errors import MlvError

TYPE_CHECKING = False  # not typing's: importing typing costs ms on every start; type checkers honour the name
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

DESCRIPTION = """\
git mlv versions the large files of a machine-learning project (datasets,
model weights, pickles) inside ordinary Git. Tracked files are stored in Git
as small MD5 pointers; their bytes live in a content-addressed blob store (a
local directory or an S3 bucket, laid out like a DVC remote). After
'git mlv install', plain git add / commit / push / clone / checkout do the rest.
"""

EPILOG = """\
common workflow:
  git mlv install                       # once per clone
  git mlv remote add -d storage /path/or/s3://bucket
  git mlv track 'data/*.csv'            # then git add / commit as usual
  git push                              # uploads data via the pre-push hook
  git mlv pull                          # download and write tracked files
exit codes: 0 success, 1 failure to act on, 2 bad usage, 3 a bug in git-mlv.
"""


def _parser_class() -> type:
    """argparse is imported only when the full parser is built: the filter and
    the hooks (every git command) take the fast path below and never need it."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            self.print_usage(sys.stderr)
            print(f"error: {message}\nhint: see '{self.prog} -h'", file=sys.stderr)
            sys.exit(2)

    return Parser


# ---------------------------------------------------------------- each command's arguments

def _scope(p: argparse.ArgumentParser, verb: str) -> None:
    scope = p.add_mutually_exclusive_group()
    for flag in ("local", "global", "system"):
        scope.add_argument(f"--{flag}", dest="scope", action="store_const", const=flag,
                           help=f"{verb} the {flag} git config" + (" (default inside a repository)" if flag == "local"
                                                                  else ""))


def _feedback(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress and no summary (errors are still printed)")
    p.add_argument("-v", "--verbose", action="store_true", help="also one line per object")


def _jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="parallel transfers (default: mlv.jobs, or the remote's default)")
    _feedback(p)


def _install(p: argparse.ArgumentParser) -> None:
    _scope(p, "write the filter config to")
    p.add_argument("--skip-smudge", action="store_true",
                   help="check out pointers, not data (fetch later with 'git mlv pull')")
    p.add_argument("--force", action="store_true", help="replace filter/diff/merge settings that are not git-mlv's")


def _remote(p: argparse.ArgumentParser) -> None:
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = rsub.add_parser("add", help="add a remote: a local path, file:///path or s3://bucket/prefix")
    r.add_argument("-d", "--default", action="store_true", help="also make it the default remote")
    r.add_argument("--local", action="store_true", help="write to .git/config instead of .mlvconfig")
    r.add_argument("--create", action="store_true",
                   help="a local path: also make its missing parent directories (mkdir -p)")
    r.add_argument("name", metavar="NAME")
    r.add_argument("url", metavar="URL")
    r = rsub.add_parser("modify", help="set an option: url, endpointurl, region, profile, jobs, ...")
    r.add_argument("--local", action="store_true",
                   help="write to .git/config (required for access_key_id / secret_access_key)")
    r.add_argument("--unset", action="store_true", help="remove the option")
    r.add_argument("--create", action="store_true",
                   help="url to a local path: also make its missing parent directories (mkdir -p)")
    r.add_argument("name", metavar="NAME")
    r.add_argument("key", metavar="KEY")
    r.add_argument("value", nargs="?", metavar="VALUE")
    rsub.add_parser("list", help="list remotes")
    r = rsub.add_parser("remove", help="remove a remote (its stored objects stay)")
    r.add_argument("name", metavar="NAME")
    r = rsub.add_parser("default", help="show or set the default remote")
    r.add_argument("name", nargs="?", metavar="NAME")
    r.add_argument("--local", action="store_true", help="set it in .git/config only")
    r = rsub.add_parser("trust", help="approve a remote whose committed .mlvconfig settings pick an endpoint, "
                                      "profile or TLS check (recorded in .git/config)")
    r.add_argument("--revoke", action="store_true", help="withdraw the approval")
    r.add_argument("name", metavar="NAME")


def _refs(everything: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("args", nargs="*", metavar="[REMOTE] REF")
        p.add_argument("--all", action="store_true", help=everything)
        _jobs(p)
    return add


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("-I", "--include", action="append", default=[], metavar="GLOB",
                   help="only paths matching (gitignore-style, repeatable or comma-separated); "
                        "mlv.fetchinclude / mlv.fetchexclude do not apply to this run")
    p.add_argument("-X", "--exclude", action="append", default=[], metavar="GLOB",
                   help="skip paths matching (replaces mlv.fetchexclude for this run; -X '' drops it)")
    p.add_argument("--all-paths", action="store_true",
                   help="ignore mlv.fetchinclude / mlv.fetchexclude for this run")


def _fetch(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs="*", metavar="[REMOTE] REF")
    p.add_argument("--all", action="store_true", help="every object in the history of all branches and tags")
    _selection(p)
    _jobs(p)


def _pull(p: argparse.ArgumentParser) -> None:
    p.add_argument("remote", nargs="?", metavar="REMOTE")
    _selection(p)
    _jobs(p)


def _checkout(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH")
    _selection(p)
    _feedback(p)


def _whereis(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: every tracked file)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _ls_files(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", nargs="?", metavar="REF")
    p.add_argument("-l", "--long", action="store_true", help="full md5 and size")


def _other_repo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rev", metavar="REV", help="a branch, tag or full commit id there (default: its HEAD)")
    p.add_argument("--remote", metavar="NAME-OR-URL",
                   help="another of its remotes, or a store of your own (a path or s3://...)")
    p.add_argument("--trust", action="store_true",
                   help="approve its committed S3 endpoint / profile / verify_ssl (kept in your global git config)")


def _ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the repository: a path, file:///path, or any URL git can fetch")
    p.add_argument("path", nargs="?", metavar="PATH", help="a file or directory there (default: all)")
    _other_repo(p)
    p.add_argument("--json", action="store_true", help="one JSON object (keys: docs/commands/ls.md)")


def _get(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the repository: a path, file:///path, or any URL git can fetch")
    p.add_argument("path", metavar="PATH", help="a file, or a directory of tracked files, there")
    p.add_argument("-o", "--out", metavar="OUT", help="where to write it (default: its name, here)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite files that exist")
    _other_repo(p)
    _jobs(p)


def _diff(p: argparse.ArgumentParser) -> None:
    p.add_argument("rev1", nargs="?", metavar="REV1")
    p.add_argument("rev2", nargs="?", metavar="REV2")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--stat", action="store_true", help="one line per artifact: PATH | OLD -> NEW real size")


def _log(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", metavar="PATH", help="the file (with --stat: optional, may be a directory)")
    p.add_argument("rev", nargs="?", metavar="REV", help="start from this commit (default HEAD)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--stat", action="store_true",
                   help="per commit, the artifacts it changed with their real sizes (OLD -> NEW)")


def _compare(kind: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        import argparse

        ksub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        d = ksub.add_parser("diff", help=f"compare {kind} between two commits (default HEAD vs working tree)",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        d.add_argument("rev1", nargs="?", metavar="REV1")
        d.add_argument("rev2", nargs="?", metavar="REV2")
        d.add_argument("--all", action="store_true", help="also show unchanged keys")
        fmt = d.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true", help="JSON for scripts")
        fmt.add_argument("--md", action="store_true", help="a Markdown table (for a pull-request comment)")
        d.add_argument("--targets", nargs="+", metavar="FILE",
                       help=f"files to compare instead of the configured {kind} files")
    return add


def _import_dvc(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--no-push", action="store_true", help="do not upload re-hashed objects to the remote")
    _feedback(p)


def _migrate(p: argparse.ArgumentParser) -> None:
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help in (("import", "rewrite history: matching files become pointers in every rewritten commit"),
                         ("info", "show what 'import' would move (paths by pattern or extension), change nothing")):
        a = msub.add_parser(action, help=help, description=help)
        a.add_argument("refs", nargs="*", metavar="REF", help="branches or tags to rewrite (default: the current one)")
        a.add_argument("-I", "--include", action="append", default=[], metavar="PATTERNS",
                       help=".gitattributes-style patterns to convert (repeatable or comma-separated)")
        a.add_argument("-X", "--exclude", action="append", default=[], metavar="PATTERNS",
                       help="patterns to leave in git")
        a.add_argument("--above", metavar="SIZE", help="only paths with a version larger than SIZE (e.g. 1MiB); "
                                                        "the .gitattributes lines then name each path")
        a.add_argument("--everything", action="store_true", help="every local branch and tag")
        if action == "import":
            a.add_argument("--from-lfs", action="store_true",
                           help="also turn every git-lfs pointer into an mlv pointer (and filter=lfs lines into mlv's)")
            a.add_argument("--force", action="store_true", help="rewrite even commits a git remote already has")
            _feedback(a)
        else:
            a.add_argument("--top", type=int, metavar="N", help="show only the N largest groups")


def _import_lfs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--everything", action="store_true",
                   help="rewrite the history of every local branch and tag, not just the working tree")
    p.add_argument("--force", action="store_true", help="with --everything: rewrite even pushed commits")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    _feedback(p)


def _fsck(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remote", metavar="REMOTE", nargs="?", const="",
                   help="check this remote (default remote if no name)")
    _jobs(p)


def _prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    p.add_argument("--recent", type=int, default=14, metavar="DAYS",
                   help="keep objects of reflog entries this recent (default 14)")
    _feedback(p)


def _gc(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remote", metavar="REMOTE", nargs="?", const="",
                   help="the remote to clean (required; no name: the default remote)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--delete", action="store_true", help="delete the candidates (without it: a dry run)")
    mode.add_argument("-n", "--dry-run", action="store_true", help="only report what would go (the default)")
    mode.add_argument("--forget", metavar="REPO-ID",
                      help="retire everything a repository that is gone declared (its record becomes a tombstone)")
    p.add_argument("--grace", type=float, metavar="DAYS",
                   help="keep copies written and objects retired less than DAYS ago (mlv.gc.grace, default 14)")
    p.add_argument("--recent", type=float, metavar="DAYS",
                   help="this repository's reflog entries this recent count as needed (mlv.gc.recent, default 14)")
    _feedback(p)


def _cache(p: argparse.ArgumentParser) -> None:
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    csub.add_parser("dir", help="print the directory of the cache in use (mlv.cachedir, or .git/mlv/cache)")
    m = csub.add_parser("migrate", help="move this repository's cached objects into a shared cache directory")
    m.add_argument("dir", nargs="?", metavar="DIR", help="the shared cache (default: mlv.cachedir); "
                                                          "also sets mlv.cachedir in .git/config")
    _feedback(m)


def _unlock(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="tracked files, or directories holding them")
    _feedback(p)


def _one_file(p: argparse.ArgumentParser, skip: bool, required: bool) -> None:
    if skip:
        p.add_argument("--skip", action="store_true", help="leave the pointer")
    p.add_argument("file", nargs=None if required else "?", metavar="FILE")


def _merge_driver(p: argparse.ArgumentParser) -> None:
    for name in ("base", "ours", "theirs", "path"):
        p.add_argument(name)


def _hook(p: argparse.ArgumentParser) -> None:
    import argparse

    from gitext.hooks import HOOK_NAMES

    p.add_argument("name", choices=HOOK_NAMES)
    p.add_argument("--chain", metavar="HOOK", help="the shim's path; its NAME.mlv-legacy runs first")
    p.add_argument("hook_args", nargs=argparse.REMAINDER, metavar="ARG", help="the arguments git gave the hook")


def _env(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object (keys: docs/commands/env.md)")
    p.add_argument("--check", action="store_true", help="run the checks of 'git mlv doctor' instead")


def _none(p: argparse.ArgumentParser) -> None:
    pass


# (name, module:function, help, description or None, arguments)
COMMANDS: list[tuple[str, str, str, str | None, Callable[[argparse.ArgumentParser], None]]] = [
    ("install", "install:run_install", "set up the filters and hooks",
     "Configure git's mlv filter (clean/smudge/process, required=true), the diff and\n"
     "merge drivers, and install the hooks (pre-commit, post-checkout, post-merge,\n"
     "pre-push) into this repository's hooks dir (core.hooksPath respected). Existing\n"
     "hooks are kept as NAME.mlv-legacy and still run. Running it twice changes nothing.", _install),
    ("uninstall", "install:run_uninstall", "remove the filters and hooks",
     "Remove git-mlv's filter, diff and merge config from the chosen scope and, inside\n"
     "a repository, its hooks (a chained hook is put back). Cache and data stay.",
     lambda p: _scope(p, "remove the config from")),
    ("track", "track:run_track", "track files matching a pattern (edits .gitattributes)",
     "Add 'PATTERN filter=mlv diff=mlv merge=mlv -text' to .gitattributes. With no\n"
     "pattern, list the tracked patterns. Files already committed that match are\n"
     "converted by 'git add --renormalize PATH'.",
     lambda p: p.add_argument("patterns", nargs="*", metavar="PATTERN", help="gitattributes pattern, e.g. 'data/*.csv'")),
    ("untrack", "track:run_untrack", "stop tracking a pattern (edits .gitattributes)", None,
     lambda p: p.add_argument("patterns", nargs="+", metavar="PATTERN")),
    ("remote", "remote:run_remote", "manage blob stores (stored in .mlvconfig)",
     "Remotes live in .mlvconfig (committed, git-config syntax); --local settings and\n"
     "secrets live in .git/config under mlv.remote.NAME.*.", _remote),
    ("push", "push:run_push", "upload objects the remote lacks",
     "Upload every object referenced by the given commits and their history (default:\n"
     "HEAD) that the remote does not have, or holds with the wrong size or a damaged\n"
     "copy. The first argument is taken as a remote name if one is configured under that name.",
     _refs("every local branch and tag")),
    ("fetch", "fetch:run_fetch", "download objects into the cache (working tree untouched)",
     "Download the objects of the given commits' trees (default: HEAD) into the\n"
     "local cache. --all fetches every object in the history of all branches and tags.\n"
     "Only paths mlv.fetchinclude / mlv.fetchexclude select (-I/-X/--all-paths override).",
     _fetch),
    ("pull", "pull:run_pull", "fetch, then write tracked files into the working tree",
     "fetch + checkout: download the objects of the checked-out files, then write every\n"
     "tracked file that is missing or still holds pointer text. Files you changed are\n"
     "never overwritten. git's index is refreshed so 'git status' stays clean. Only paths\n"
     "mlv.fetchinclude / mlv.fetchexclude select (-I/-X/--all-paths override).", _pull),
    ("checkout", "checkout:run_checkout", "write tracked files from the local cache",
     "Write tracked files that are missing or hold pointer text, from the local cache\n"
     "only (no download). PATH limits it to files at or under those paths. Files that\n"
     "mlv.fetchinclude / mlv.fetchexclude leave out stay as they are (-I/-X/--all-paths override).",
     _checkout),
    ("status", "status:run_status", "tracked files modified, staged, not yet pushed", None, _none),
    ("whereis", "whereis:run_whereis", "where each tracked file's data is: the cache, each remote",
     "For each tracked file at or under PATH (default: all; as in the index), its size and\n"
     "md5 and whether its object is in the local cache and in each configured remote\n"
     "(one batched lookup per remote). A remote that cannot be asked is 'unknown'.", _whereis),
    ("ls-files", "ls_files:run_ls_files", "list tracked files at a commit (default HEAD)",
     "List tracked files: short md5, '*' if the object is in the local cache ('-'\n"
     "if not), path. --long adds the full md5 and size.", _ls_files),
    ("ls", "ls:run_ls", "list another repository's tracked files, without cloning it",
     "List the tracked files of the repository at URL (at --rev, default its HEAD): path,\n"
     "size, md5, and whether its default remote holds each object (one batched lookup).\n"
     "Only one commit, its trees and its pointer-sized blobs are fetched, into a mirror\n"
     "in your cache (reused and refreshed on every call).", _ls),
    ("get", "get:run_get", "download a file or directory of another repository, without cloning it",
     "Write PATH of the repository at URL (a tracked file, a directory of them, or any\n"
     "other file) to OUT (default: its name in the current directory). Objects come from\n"
     "that repository's remote, verified, through your user-level cache; each file is\n"
     "written to a temp file and renamed, so OUT never holds a partial one.", _get),
    ("diff", "diff:run_diff", "tracked artifacts added / modified / deleted / renamed",
     "Compare the tracked artifacts of two commits (default: HEAD vs the working tree),\n"
     "with sizes and short md5s. Reads git objects only; nothing is checked out.", _diff),
    ("log", "log:run_log", "every version of one artifact",
     "List every commit that changed PATH's tracked content: commit, date, author,\n"
     "subject, md5, size. --stat: per commit, the artifacts it changed (at or under\n"
     "PATH) with their real sizes. Reads git objects only.", _log),
    ("params", "params_metrics:run_params", "compare parameters (YAML / JSON / TOML), old -> new", None,
     _compare("params")),
    ("metrics", "params_metrics:run_metrics", "compare numeric metrics with absolute and relative change", None,
     _compare("metrics")),
    ("import-dvc", "import_dvc:run_import_dvc", "convert a DVC project in place",
     "Turn every .dvc-tracked file (and every file of a tracked directory) into an\n"
     "mlv-tracked file, remove the .dvc files and DVC's .gitignore entries, add track\n"
     "patterns, and turn DVC's remotes into mlv remotes. Objects DVC 2.x named by the md5\n"
     "of LF-normalised text are re-hashed and stored under their raw md5.", _import_dvc),
    ("migrate", "migrate:run_migrate", "rewrite history so matching files become mlv pointers (git-filter-repo)",
     "'import' rewrites the history of the current branch (or REFS, or --everything):\n"
     "the selected files become mlv pointers in every rewritten commit, their bytes go\n"
     "into the local cache, and every rewritten commit's .gitattributes tracks them.\n"
     "Refuses a dirty tree, and commits a git remote has unless --force. 'info' shows\n"
     "what would move. Needs git-filter-repo (pip install 'git-mlv[migrate]').", _migrate),
    ("import-lfs", "import_lfs:run_import_lfs", "convert a git-lfs repository in place",
     "Turn every git-lfs pointer of the checked-out tree into an mlv pointer to the same\n"
     "bytes (from .git/lfs, or fetched with git lfs; sha256 checked), rewrite filter=lfs\n"
     ".gitattributes lines as mlv's, stage the result and remove git-lfs's hooks and filter\n"
     "config. --everything rewrites the whole history instead (as migrate import --from-lfs).",
     _import_lfs),
    ("fsck", "fsck:run_fsck", "verify every object's md5 (cache, or a remote)",
     "Re-hash every object in the local cache (or in REMOTE with --remote); corrupt ones\n"
     "are reported and moved to quarantine, never deleted.", _fsck),
    ("prune", "prune:run_prune", "drop cached objects no ref needs and the remote holds",
     "Delete cached objects that no local branch, tag, HEAD, index or recent reflog entry\n"
     "references and that the default remote verifiably holds. Never the only copy.", _prune),
    ("gc", "gc:run_gc", "delete from a remote what no repository using it needs (dry run unless --delete)",
     "Delete from a remote the objects that some repository's record once declared and\n"
     "no record declares now, older than the grace period. Every push records what its\n"
     "repository needs in the remote itself (mlv/repos/); objects no record ever\n"
     "declared (DVC's, an older git mlv's) are never deleted. A dry run unless --delete.", _gc),
    ("cache", "cache:run_cache", "where the cache is; move it into a shared cache directory",
     "'dir' prints the cache in use: mlv.cachedir (a directory any number of clones and\n"
     "projects can share), else .git/mlv/cache. 'migrate [DIR]' moves this repository's\n"
     "cached objects there without downloading them again (hard links on the same file\n"
     "system, else verified copies) and sets mlv.cachedir; safe to interrupt and rerun.", _cache),
    ("unlock", "unlock:run_unlock", "make hard-linked files private, writable copies",
     "With mlv.linktype hardlink, large tracked files are read-only hard links to the\n"
     "cached objects. 'unlock' replaces each named file (or every tracked file under a\n"
     "named directory) by a private writable copy, so editing it in place cannot\n"
     "change the cache. A file that is not linked is left as it is.", _unlock),
    ("version", "version:run_version", "print the version", None, _none),
    ("env", "env:run_env", "show versions, repository, filter, hooks, cache, remotes and settings",
     "Print what git mlv sees: versions, the repository, the filter and hook\n"
     "installation, the cache, every remote (credentials: only where they come from),\n"
     "tracked patterns and every mlv.* setting with its source. Writes nothing and\n"
     "contacts no remote.", _env),
    ("doctor", "env:run_doctor", "check the setup; one ok / warning / error line per check, with the fix",
     "Check git, the filter, the hooks (and core.hooksPath), the cache, settings, each\n"
     "remote (an S3 remote is contacted only once trusted) and the index's objects.\n"
     "Exit 1 when any check is an error.", _none),
    ("demo", "demo:run_demo", "run the quick-start workflow in a temp dir, step by step", None,
     lambda p: p.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")),
    ("manpage", "gitext.manpage:run_manpage", "print the git-mlv(1) man page (roff)", None, _none),
    ("filter-process", "filter:run_filter_process", "git's long-running filter (called by git)", None,
     lambda p: p.add_argument("--skip", action="store_true", help="smudge leaves pointers (install --skip-smudge)")),
    ("clean", "filter:run_clean", "one-file clean filter (called by git)", None,
     lambda p: _one_file(p, skip=False, required=False)),
    ("smudge", "filter:run_smudge", "one-file smudge filter (called by git)", None,
     lambda p: _one_file(p, skip=True, required=False)),
    ("textconv", "textconv:run_textconv", "one-line summary of a version (git diff driver)", None,
     lambda p: _one_file(p, skip=False, required=True)),
    ("merge-driver", "merge_driver:run_merge_driver", "merge driver for pointers (called by git)", None,
     _merge_driver),
    ("hook", "hook:run_hook", "run a git hook's git-mlv part (called by the hook shims)", None, _hook),
]


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = _parser_class()(prog="git mlv", description=DESCRIPTION, epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"git-mlv {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, target, help, description, arguments in COMMANDS:
        p = sub.add_parser(name, help=help, description=description or help,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(target=target)
        arguments(p)
    return parser


def _crash_log(exc: BaseException) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "git-mlv", "crash.log")
    import traceback

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"git-mlv {__version__} argv={sys.argv!r}\n")
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        return "(could not write a crash log)"
    return path


def _fast_args(argv: list[str]) -> SimpleNamespace | None:
    """The commands git runs on every operation, parsed without building the
    whole parser (tens of ms). Anything unusual goes through the full parser."""
    if not argv:
        return None
    if argv[0] == "hook" and len(argv) >= 4 and argv[1] == "--chain":
        from gitext.hooks import HOOK_NAMES

        if argv[3] in HOOK_NAMES:
            return SimpleNamespace(target="hook:run_hook", chain=argv[2], name=argv[3], hook_args=argv[4:])
    if argv[0] == "filter-process" and set(argv[1:]) <= {"--skip"}:
        return SimpleNamespace(target="filter:run_filter_process", skip=bool(argv[1:]))
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # git recursing into a submodule (submodule.recurse) exports its --super-prefix to
    # what it starts, our filter included; the git commands we run would refuse it
    os.environ.pop("GIT_INTERNAL_SUPER_PREFIX", None)
    args = _fast_args(argv)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(argv)
    if not getattr(args, "target", None):
        build_parser().print_help(sys.stderr)
        return 2
    if getattr(args, "quiet", False) or getattr(args, "verbose", False):
        from gitext import progress

        progress.configure(quiet=bool(getattr(args, "quiet", False)), verbose=bool(getattr(args, "verbose", False)))
    module_name, func_name = args.target.split(":")
    try:
        module = importlib.import_module(module_name if "." in module_name else f"gitext.commands.{module_name}")
        return int(getattr(module, func_name)(args) or 0)
    except MlvError as exc:
        from gitext.output import error

        error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes exit 3
        where = _crash_log(exc)
        print(f"error: git-mlv hit a bug ({type(exc).__name__}: {exc}); details in {where}", file=sys.stderr)
        return 3
