"""gitignore-style --include / --exclude patterns (paths relative to the repo root)."""
from __future__ import annotations

import pytest

from gitext.pathmatch import compile_pattern, path_filter, split_patterns


def matches(pattern: str, path: str) -> bool:
    return compile_pattern(pattern).fullmatch(path) is not None


@pytest.mark.parametrize("pattern,path,expected", [
    # a slash inside the pattern anchors it at the root
    ("data/*.csv", "data/a.csv", True),
    ("data/*.csv", "data/.csv", True),
    ("data/*.csv", "x/data/a.csv", False),
    ("data/*.csv", "data/sub/a.csv", False),
    ("data/*.csv", "data/a.csvx", False),
    ("data/*.csv", "data/a.tsv", False),
    ("data/*.csv", "a.csv", False),
    ("data/*.csv", "datax/a.csv", False),
    ("/data/*.csv", "data/a.csv", True),
    ("/data/*.csv", "x/data/a.csv", False),
    # no slash: matches at any depth
    ("*.csv", "a.csv", True),
    ("*.csv", "data/a.csv", True),
    ("*.csv", "a/b/c/d.csv", True),
    ("*.csv", "a.csv.bak", False),
    ("*.csv", "acsv", False),
    ("/*.csv", "a.csv", True),
    ("/*.csv", "data/a.csv", False),
    # a trailing slash: a directory and everything under it
    ("models/", "models/a.bin", True),
    ("models/", "models/sub/deep/b.pt", True),
    ("models/", "x/models/a.bin", True),
    ("models/", "modelsx/a.bin", False),
    ("models/", "my_models/a.bin", False),
    ("/models/", "models/a.bin", True),
    ("/models/", "x/models/a.bin", False),
    ("data/raw/", "data/raw/a", True),
    ("data/raw/", "x/data/raw/a", False),
    # ** matches any number of directories
    ("**/x.bin", "x.bin", True),
    ("**/x.bin", "a/x.bin", True),
    ("**/x.bin", "a/b/c/x.bin", True),
    ("**/x.bin", "a/yx.bin", False),
    ("**/x.bin", "x.bin2", False),
    ("a/**/b.bin", "a/b.bin", True),
    ("a/**/b.bin", "a/x/y/b.bin", True),
    ("a/**/b.bin", "z/a/b.bin", False),
    ("a/**", "a/x", True),
    ("a/**", "a/x/y", True),
    # ? and character classes never cross a slash
    ("f?.bin", "f1.bin", True),
    ("f?.bin", "f12.bin", False),
    ("f?.bin", "f/.bin", False),
    ("f[0-9].bin", "f7.bin", True),
    ("f[0-9].bin", "fa.bin", False),
    ("f[!0-9].bin", "fa.bin", True),
    ("f[!0-9].bin", "f7.bin", False),
    ("*", "a/b", True),
    ("a.b", "axb", False),  # dots are literal
    ("a+b(c)", "a+b(c)", True),
])
def test_compile_pattern(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_split_patterns() -> None:
    assert split_patterns(["a,b", "c", "", " ,d", "e,"]) == ["a", "b", "c", "d", "e"]
    assert split_patterns([]) == []
    assert split_patterns([","]) == []


PATHS = ["a.bin", "data/a.csv", "data/sub/b.csv", "x/data/c.csv", "models/m.pt", "models/sub/n.pt",
         "src/x.bin", "deep/er/x.bin", "notes.txt"]


def kept(include: list[str], exclude: list[str]) -> list[str]:
    keep = path_filter(include, exclude)
    return [p for p in PATHS if keep(p)]


def test_no_patterns_keep_everything() -> None:
    assert kept([], []) == PATHS


def test_include_anchored() -> None:
    assert kept(["data/*.csv"], []) == ["data/a.csv"]


def test_include_any_depth() -> None:
    assert kept(["*.csv"], []) == ["data/a.csv", "data/sub/b.csv", "x/data/c.csv"]


def test_include_directory() -> None:
    assert kept(["models/"], []) == ["models/m.pt", "models/sub/n.pt"]


def test_include_double_star() -> None:
    assert kept(["**/x.bin"], []) == ["src/x.bin", "deep/er/x.bin"]


def test_include_comma_separated_and_repeated() -> None:
    expected = ["data/a.csv", "models/m.pt", "models/sub/n.pt", "notes.txt"]
    assert kept(["data/*.csv,models/", "notes.txt"], []) == expected
    assert kept(["data/*.csv, models/ ,notes.txt"], []) == expected


def test_exclude_only() -> None:
    assert kept([], ["*.csv,models/"]) == ["a.bin", "src/x.bin", "deep/er/x.bin", "notes.txt"]


def test_exclude_wins_over_include() -> None:
    assert kept(["*.csv"], ["data/sub/"]) == ["data/a.csv", "x/data/c.csv"]
    assert kept(["*.bin"], ["**/x.bin"]) == ["a.bin"]


def test_negation_last_match_wins() -> None:
    keep = path_filter(["data/**", "!data/tmp/**"], [])
    assert keep("data/a.csv") and not keep("data/tmp/x.csv")


def test_trailing_slash_matches_directories_only() -> None:
    keep = path_filter(["models/"], [])
    assert keep("models/a.pt") and not keep("models")


@pytest.mark.parametrize("pattern,path,expected", [
    # brackets as git's wildmatch reads them; none of these is an error
    ("[z-a].bin", "z.bin", False),           # a reversed range matches nothing
    ("[]a].bin", "].bin", True),             # ']' first is literal
    ("[]a].bin", "a.bin", True),
    ("x[a-].bin", "x-.bin", True),           # '-' last is literal
    ("a[[]b", "a[b", True),
    ("[", "[", True),                        # never closed: a literal '['
    ("a[b", "a[b", True),
    ("[^0-9].bin", "a.bin", True),
    ("[^0-9].bin", "1.bin", False),
    ("[[:space:]]x", " x", True),            # as git mlv track writes whitespace
    ("[[:digit:]][[:alpha:]]", "1a", True),
    ("[[:digit:]][[:alpha:]]", "a1", False),
    ("a[/]b", "a/b", False),                 # a bracket never matches '/'
    ("a[!x]b", "a/b", False),
    # backslash escapes the next character (gitignore)
    ("\\#notes.bin", "#notes.bin", True),
    ("\\*.bin", "*.bin", True),
    ("\\*.bin", "a.bin", False),
    ("\\[a].bin", "[a].bin", True),
    # runs of '*' and '**/' mean what one does
    ("***.bin", "a/b.bin", True),
    ("a/**/**/**/b.bin", "a/b.bin", True),
    ("a/**/**/b.bin", "a/x/y/b.bin", True),
])
def test_compile_pattern_brackets_and_escapes(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_no_pattern_is_an_error() -> None:
    import random
    import warnings

    rng = random.Random(7)
    alphabet = "ab/*?[]!^-:\\,"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning for a nested set either
        for _ in range(3000):
            pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            path_filter([pattern], [pattern])("a/b")
