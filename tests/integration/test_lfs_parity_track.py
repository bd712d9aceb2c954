"""track / untrack against the scenarios of git-lfs's t/t-track.sh and t/t-untrack.sh
(each test names the one it follows). Where git mlv deliberately differs, the test
says how."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out

ATTRS = "filter=mlv diff=mlv merge=mlv -text"


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """A fresh repository with git mlv installed and nothing tracked."""
    git(tmp_path, "init", "-q", "r")
    mlv(tmp_path / "r", "install")
    return tmp_path / "r"


def attributes(repo: Path) -> str:
    return (repo / ".gitattributes").read_bytes().decode()


def filter_of(repo: Path, *paths: str) -> dict[str, str]:
    """What real git says the filter attribute of each path is."""
    lines = out(git(repo, "check-attr", "filter", "--", *paths)).splitlines()
    return {line.split(": ")[0]: line.split(": ")[-1] for line in lines}


def is_pointer(repo: Path, path: str) -> bool:
    return out(git(repo, "cat-file", "blob", f"HEAD:{path}")).startswith("mlv: 1\n")


def test_track_keeps_hand_written_lines_and_does_not_duplicate(bare_repo: Path) -> None:
    """t-track.sh "track": existing comments and other attributes stay; tracking the
    same pattern twice writes one line and says it is already tracked."""
    hand_written = "# normalise line endings\n* text=auto\n\n#*.cs     diff=csharp\n"
    (bare_repo / ".gitattributes").write_text(hand_written)
    assert out(mlv(bare_repo, "track", "*.jpg")) == "tracking '*.jpg'\n"
    assert "'*.jpg' is already tracked" in out(mlv(bare_repo, "track", "*.jpg"))
    assert attributes(bare_repo) == hand_written + f"*.jpg {ATTRS}\n"
    assert out(mlv(bare_repo, "track")) == "tracked patterns (.gitattributes):\n    *.jpg\n"


def test_track_directory_with_space_commits_pointers(bare_repo: Path) -> None:
    """t-track.sh "track directory": a space is written as [[:space:]] and the files
    under the directory are committed as pointers."""
    assert out(mlv(bare_repo, "track", "foo bar/*")) == "tracking 'foo bar/*'\n"
    assert attributes(bare_repo) == f"foo[[:space:]]bar/* {ATTRS}\n"
    (bare_repo / "foo bar").mkdir()
    (bare_repo / "foo bar/a").write_text("a\n")
    (bare_repo / "foo bar/b").write_text("b\n")
    git(bare_repo, "add", ".")
    git(bare_repo, "commit", "-q", "-m", "foo bar")
    assert is_pointer(bare_repo, "foo bar/a") and is_pointer(bare_repo, "foo bar/b")


def test_track_ends_a_last_line_that_has_no_line_break(bare_repo: Path) -> None:
    """t-track.sh "track without trailing linebreak"."""
    (bare_repo / ".gitattributes").write_bytes(b"*.mov filter=lfs -text")
    mlv(bare_repo, "track", "*.gif")
    assert attributes(bare_repo) == f"*.mov filter=lfs -text\n*.gif {ATTRS}\n"


def test_track_keeps_crlf_of_existing_file(bare_repo: Path) -> None:
    """t-track.sh "track with existing crlf": created under core.autocrlf=true the file
    has CRLF lines, and once it has them a later track keeps CRLF whatever autocrlf says
    (issue item 9: no mixed line endings)."""
    git(bare_repo, "config", "core.autocrlf", "true")
    mlv(bare_repo, "track", "*.mov")
    mlv(bare_repo, "track", "*.gif")
    assert attributes(bare_repo) == f"*.mov {ATTRS}\r\n*.gif {ATTRS}\r\n"
    git(bare_repo, "config", "core.autocrlf", "false")
    mlv(bare_repo, "track", "*.jpg")
    assert attributes(bare_repo) == f"*.mov {ATTRS}\r\n*.gif {ATTRS}\r\n*.jpg {ATTRS}\r\n"


def test_track_keeps_crlf_of_a_hand_written_file(bare_repo: Path) -> None:
    """Issue item 9 (no git-lfs test): a CRLF .gitattributes written by a Windows editor
    gets the new line with CRLF too, and untrack keeps CRLF."""
    (bare_repo / ".gitattributes").write_bytes(b"* text=auto\r\n*.psd binary\r\n")
    mlv(bare_repo, "track", "*.bin")
    assert attributes(bare_repo) == f"* text=auto\r\n*.psd binary\r\n*.bin {ATTRS}\r\n"
    mlv(bare_repo, "untrack", "*.bin")
    assert attributes(bare_repo) == "* text=auto\r\n*.psd binary\r\n"
    assert filter_of(bare_repo, "a.bin")["a.bin"] == "unspecified"


@pytest.mark.parametrize("autocrlf, ending", [("true", "\r\n"), ("input", "\n")])
def test_track_follows_autocrlf_when_file_shows_no_line_ending(bare_repo: Path, autocrlf: str,
                                                               ending: str) -> None:
    """t-track.sh "track with autocrlf=true" and "track with autocrlf=input": a file
    with no line break yet is written with CRLF only when core.autocrlf is true."""
    git(bare_repo, "config", "core.autocrlf", autocrlf)
    (bare_repo / ".gitattributes").write_bytes(b"*.mov filter=lfs -text")
    mlv(bare_repo, "track", "*.gif")
    assert attributes(bare_repo) == f"*.mov filter=lfs -text{ending}*.gif {ATTRS}{ending}"


def test_track_outside_a_repository_or_above_its_root_is_refused(bare_repo: Path, tmp_path: Path) -> None:
    """t-track.sh "track outside git repo": outside any repository track fails; inside
    one, '../*.foo' (above the root) is refused as bad usage and nothing is written."""
    outside = tmp_path / "outside"
    outside.mkdir()
    done = mlv(outside, "track", "*.foo", check=False)
    assert done.returncode == 1 and err(done).startswith("error: not a git repository")
    above = mlv(bare_repo, "track", "*.file", "../*.foo", check=False)
    assert above.returncode == 2
    assert err(above).startswith("error: '../*.foo' is outside the repository\nhint: ")
    assert not (bare_repo / ".gitattributes").exists()


def test_track_in_subdirectory_recognises_a_pattern_tracked_from_the_root(bare_repo: Path) -> None:
    """t-track.sh "track representation": 'test.file' typed in a/ after 'a/test.file'
    from the root is already tracked. Differs: git-lfs writes a slash-less pattern typed
    in a/ into a/.gitattributes, where it matches at any depth under a/; git mlv writes
    the same meaning into the root file as 'a/**/PATTERN', so the pair that git-lfs calls
    the same is 'a/**/file.bin' here."""
    (bare_repo / "a").mkdir()
    mlv(bare_repo, "track", "*.jpg", "a/test.file", "a/sub/test.file")
    assert "already tracked" in out(mlv(bare_repo / "a", "track", "sub/test.file"))
    assert "tracking 'file.bin' (as 'a/**/file.bin')" in out(mlv(bare_repo / "a", "track", "file.bin"))
    assert "already tracked" in out(mlv(bare_repo, "track", "a/**/file.bin"))
    assert filter_of(bare_repo, "a/file.bin", "a/b/c/file.bin", "file.bin") == {
        "a/file.bin": "mlv", "a/b/c/file.bin": "mlv", "file.bin": "unspecified"}


def test_track_absolute_pattern_is_anchored_at_the_root(bare_repo: Path) -> None:
    """t-track.sh "track absolute": '/images' is written with its slash (issue item 7),
    so git matches images but not sub/images."""
    assert out(mlv(bare_repo, "track", "/images")) == "tracking '/images'\n"
    assert attributes(bare_repo) == f"/images {ATTRS}\n"
    assert filter_of(bare_repo, "images", "sub/images") == {"images": "mlv", "sub/images": "unspecified"}
    assert "already tracked" in out(mlv(bare_repo, "track", "/images"))
    mlv(bare_repo, "untrack", "/images")
    assert attributes(bare_repo) == ""


def test_track_absolute_pattern_from_a_subdirectory_is_anchored_at_the_root(bare_repo: Path) -> None:
    """t-track.sh "track absolute", typed in a subdirectory. Differs: git-lfs writes
    '/images' into that directory's .gitattributes (anchored there); in git mlv a leading
    '/' always means the repository root, as docs/commands/track.md says."""
    (bare_repo / "sub").mkdir()
    mlv(bare_repo / "sub", "track", "/images")
    assert filter_of(bare_repo, "images", "sub/images") == {"images": "mlv", "sub/images": "unspecified"}


def test_track_in_git_dir_is_refused(bare_repo: Path) -> None:
    """t-track.sh "track in gitDir": inside .git there is no working tree to track in."""
    done = mlv(bare_repo / ".git", "track", "../test.file", check=False)
    assert done.returncode == 1 and err(done).startswith("error: ") and "Traceback" not in err(done)
    assert not (bare_repo / ".gitattributes").exists()


def test_track_in_symlinked_dir_writes_plain_pattern(bare_repo: Path, tmp_path: Path) -> None:
    """t-track.sh "track in symlinked dir" and "track (symlinked repository)": reached
    through a symbolic link the repository root is still the root."""
    link = tmp_path / "link"
    link.symlink_to(bare_repo)
    assert out(mlv(link, "track", "*.png")) == "tracking '*.png'\n"
    assert "already tracked" in out(mlv(link, "track", "*.png"))
    assert attributes(bare_repo) == f"*.png {ATTRS}\n"


@pytest.mark.parametrize("pattern, hit", [(".gitattributes", ".gitattributes"), (".git*", ".gitattributes"),
                                          ("*", ".gitattributes")])
def test_track_refuses_patterns_matching_git_files(bare_repo: Path, pattern: str, hit: str) -> None:
    """t-track.sh "track blocklisted files by name" and "track blocklisted files with
    glob": refused (exit 2, git mlv's usage status), nothing written or staged."""
    (bare_repo / ".gitattributes").write_text("")
    git(bare_repo, "add", ".gitattributes")
    git(bare_repo, "commit", "-q", "-m", "initial")
    done = mlv(bare_repo, "track", pattern, check=False)
    assert done.returncode == 2
    assert err(done).startswith(f"error: refusing to track '{pattern}': it matches {hit}")
    assert attributes(bare_repo) == ""
    assert out(git(bare_repo, "status", "--porcelain")) == ""


def test_track_escapes_whitespace_only_and_hash_patterns(bare_repo: Path) -> None:
    """t-track.sh "track escaped pattern" (issue item 10): ' ' is tracked as [[:space:]]
    (so a tab is the same pattern) and '#' as \\#, and git matches files of those names."""
    assert out(mlv(bare_repo, "track", " ")) == "tracking ' '\n"
    assert out(mlv(bare_repo, "track", "#")) == "tracking '#'\n"
    assert out(mlv(bare_repo, "track", "\t")) == "'\t' is already tracked\n"  # any whitespace: one class
    assert attributes(bare_repo) == f"[[:space:]] {ATTRS}\n\\# {ATTRS}\n"
    assert filter_of(bare_repo, " ", "#", "x") == {" ": "mlv", "#": "mlv", "x": "unspecified"}


@pytest.mark.parametrize("pattern", ["", "a\nb", "a\rb", ".", "/"])
def test_track_refuses_empty_and_multi_line_patterns(bare_repo: Path, pattern: str) -> None:
    """Issue item 10 (no git-lfs test): only a pattern that names nothing or has a line
    break is invalid."""
    done = mlv(bare_repo, "track", pattern, check=False)
    assert done.returncode == 2 and err(done).startswith("error: invalid pattern ")
    assert not (bare_repo / ".gitattributes").exists()


def test_track_does_not_install_hooks(tmp_path: Path) -> None:
    """t-track.sh "track ($GIT_LFS_TRACK_NO_INSTALL_HOOKS)". Differs: git-lfs track
    installs hooks unless told not to; git mlv track never touches hooks (that is
    install's job)."""
    git(tmp_path, "init", "-q", "r")
    mlv(tmp_path / "r", "track", "*.bin")
    mlv(tmp_path / "r", "track")
    hooks = tmp_path / "r/.git/hooks"
    assert not any((hooks / name).exists() for name in ("pre-commit", "pre-push", "post-checkout", "post-merge"))


def test_track_lists_only_real_lines_not_comments(bare_repo: Path) -> None:
    """t-track.sh "track (with comments)"."""
    (bare_repo / ".gitattributes").write_text(
        f"*.jpg {ATTRS}\n# *.png {ATTRS}\n*.pdf {ATTRS}\n")
    listed = out(mlv(bare_repo, "track"))
    assert "*.jpg" in listed and "*.pdf" in listed and "png" not in listed


@pytest.mark.parametrize("typed, written", [("./a.dat", "a.dat"), ("a/./b.dat", "a/b.dat"),
                                            ("a//b.dat", "a/b.dat"), (".//a/.//b.dat", "a/b.dat")])
def test_track_current_directory_prefix_is_dropped(bare_repo: Path, typed: str, written: str) -> None:
    """t-track.sh "track (with current-directory prefix)" (issue item 6): './a.dat' is
    written as 'a.dat', which git matches, and the file is committed as a pointer."""
    assert out(mlv(bare_repo, "track", typed)) == f"tracking '{typed}' (as '{written}')\n"
    assert attributes(bare_repo) == f"{written} {ATTRS}\n"
    assert "already tracked" in out(mlv(bare_repo, "track", written))
    path = bare_repo / written
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a")
    git(bare_repo, "add", ".")
    git(bare_repo, "commit", "-q", "-m", "a")
    assert is_pointer(bare_repo, written)
    assert out(mlv(bare_repo, "untrack", typed)).startswith(f"untracking '{typed}'")
    assert attributes(bare_repo) == ""


def test_track_current_directory_prefix_in_a_subdirectory(bare_repo: Path) -> None:
    """t-track.sh "track (with current-directory prefix)", typed in a subdirectory:
    relative to it, as git-lfs."""
    (bare_repo / "data").mkdir()
    mlv(bare_repo / "data", "track", "./raw/a.dat", "../top.dat")
    assert attributes(bare_repo) == f"data/raw/a.dat {ATTRS}\n/top.dat {ATTRS}\n"
    assert filter_of(bare_repo, "data/raw/a.dat", "top.dat", "data/top.dat") == {
        "data/raw/a.dat": "mlv", "top.dat": "mlv", "data/top.dat": "unspecified"}
    mlv(bare_repo / "data", "untrack", "./raw/a.dat")
    assert attributes(bare_repo) == f"/top.dat {ATTRS}\n"


def test_track_name_with_spaces_and_hash(bare_repo: Path) -> None:
    """t-track.sh "track: escaped pattern in .gitattributes" (without its --lockable
    step): one line per pattern, recognised on the second run."""
    name = "file with spaces.#"
    for pattern in (name, f"foo/bar/{name}"):
        assert out(mlv(bare_repo, "track", pattern)) == f"tracking '{pattern}'\n"
        assert out(mlv(bare_repo, "track", pattern)) == f"'{pattern}' is already tracked\n"
    assert len(attributes(bare_repo).splitlines()) == 2
    assert filter_of(bare_repo, name, f"foo/bar/{name}") == {name: "mlv", f"foo/bar/{name}": "mlv"}


def test_untrack_keeps_other_lines(bare_repo: Path) -> None:
    """t-untrack.sh "untrack"."""
    mlv(bare_repo, "track", "*.jpg")
    with open(bare_repo / ".gitattributes", "a") as f:
        f.write("* annex.backend=SHA512E\n")
    assert out(mlv(bare_repo, "untrack", "*.jpg")).startswith("untracking '*.jpg'\n")
    assert attributes(bare_repo) == "* annex.backend=SHA512E\n"


def test_untrack_outside_a_repository(tmp_path: Path) -> None:
    """t-untrack.sh "untrack outside git repo"."""
    done = mlv(tmp_path, "untrack", "*.foo", check=False)
    assert done.returncode == 1 and err(done).startswith("error: not a git repository")


def test_untrack_removes_escaped_patterns(bare_repo: Path) -> None:
    """t-untrack.sh "untrack removes escape sequences"."""
    for pattern in (" ", "#"):
        mlv(bare_repo, "track", pattern)
        assert out(mlv(bare_repo, "untrack", pattern)).startswith(f"untracking '{pattern}'\n")
        assert attributes(bare_repo) == ""


@pytest.mark.parametrize("written", ["./a.dat", "a.dat"])
@pytest.mark.parametrize("typed", ["./a.dat", "a.dat"])
def test_untrack_removes_current_directory_prefixed_lines(bare_repo: Path, written: str, typed: str) -> None:
    """t-untrack.sh "untrack removes prefixed patterns (legacy)" and "(modern)": a line
    written as './a.dat' (which git never matches) or 'a.dat' goes with either
    spelling."""
    (bare_repo / ".gitattributes").write_text(f"{written} filter=mlv diff=mlv merge=mlv\n")
    mlv(bare_repo, "untrack", typed)
    assert attributes(bare_repo) == ""


def test_track_rewrites_a_current_directory_prefixed_line(bare_repo: Path) -> None:
    """Issue item 6 (no git-lfs test): a './a.dat' line left by an older tool is
    replaced by one git matches, not reported as already tracked."""
    (bare_repo / ".gitattributes").write_text(f"./a.dat {ATTRS}\n")
    assert out(mlv(bare_repo, "track", "a.dat")) == "tracking 'a.dat'\n"
    assert attributes(bare_repo) == f"a.dat {ATTRS}\n"


def test_untrack_removes_every_git_lfs_style_escaped_line(bare_repo: Path) -> None:
    """t-untrack.sh "untrack removes escaped pattern in .gitattributes": git-lfs escapes
    every '#' as \\#; such lines, even repeated, go for the plain name."""
    line = "file[[:space:]]with[[:space:]]spaces.\\# filter=mlv diff=mlv merge=mlv -text\n"
    (bare_repo / ".gitattributes").write_text(line * 3)
    mlv(bare_repo, "untrack", "file with spaces.#")
    assert attributes(bare_repo) == ""


def test_untrack_with_git_dir_and_work_tree_in_environment(tmp_path: Path) -> None:
    """t-untrack.sh "untrack works with GIT_WORK_TREE": run outside the working tree,
    with GIT_DIR and GIT_WORK_TREE naming it, track and untrack edit its .gitattributes."""
    work, gitdir = tmp_path / "work", tmp_path / "work-git"
    work.mkdir()
    env = {"GIT_DIR": str(gitdir), "GIT_WORK_TREE": str(work)}
    git(tmp_path, "init", "-q", env=env)
    mlv(tmp_path, "track", "*.bin", env=env)
    assert attributes(work) == f"*.bin {ATTRS}\n"
    mlv(tmp_path, "untrack", "*.bin", env=env)
    assert attributes(work) == ""


def test_blocklisted_names_are_refused_from_a_subdirectory_too(repo: Path) -> None:
    """t-track.sh "track blocklisted files with glob", typed in a subdirectory: the
    pattern reaches that directory's .gitattributes and .gitignore."""
    (repo / "data").mkdir(exist_ok=True)
    for pattern in (".git*", ".mlv*", ".gitignore"):
        done = mlv(repo / "data", "track", pattern, check=False)
        assert done.returncode == 2 and "refusing to track" in err(done), pattern
