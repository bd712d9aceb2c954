#!/bin/sh
# One-command set-up of git mlv on a machine with Python >= 3.10 and git.
#   ./install.sh          install git-mlv (then try: git mlv demo)
#   ./install.sh --test   install git-mlv with its test needs, then run the test suite
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
MODE=${1:-}

case "$MODE" in
  ""|--test) ;;
  *) echo "usage: ./install.sh [--test]" >&2; exit 2 ;;
esac

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "error: git mlv needs Python 3.10 or newer ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }
command -v git >/dev/null || { echo "error: git is not installed; install git first" >&2; exit 1; }

PIP="$PY -m pip install --quiet --disable-pip-version-check --root-user-action=ignore"
if [ "$MODE" = "--test" ]; then
  # the import-lfs tests need the real git-lfs (they skip, saying so, without it)
  if ! command -v git-lfs >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git-lfs; } >/dev/null 2>&1 ||
      echo "warning: could not install git-lfs with apt-get; the import-lfs tests will skip" >&2
  fi
  # editable: the tests exercise this checkout
  $PIP -e ".[test]" -c .ci/constraints.txt
  # An editable install ships no bytecode, and with PYTHONDONTWRITEBYTECODE set
  # none is ever written: every filter and hook start would compile gitext from
  # source (~7 ms for cli.py alone). compileall writes it regardless.
  "$PY" -m compileall -q gitext >/dev/null
else
  $PIP .
fi

BIN=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null || true

# 'git mlv --help' is answered by 'man git-mlv': put the page where man looks,
# first under the prefix of the Python that installed git-mlv (a venv's share/man:
# man finds it from the venv's bin on PATH), not another installation's.
PREFIX_MAN=$("$PY" -c 'import os, sys; print(os.path.join(sys.prefix, "share", "man"))')
if command -v man >/dev/null 2>&1; then
  for dir in "$PREFIX_MAN" $(manpath 2>/dev/null | tr ':' ' ') "$HOME/.local/share/man"; do
    if mkdir -p "$dir/man1" 2>/dev/null && [ -w "$dir/man1" ]; then
      "$BIN/git-mlv" manpage > "$dir/man1/git-mlv.1" && break
    fi
  done
fi

if ! command -v git-mlv >/dev/null 2>&1; then
  echo "warning: $BIN is not on your PATH, so 'git mlv' will not be found; add it:" >&2
  echo "  export PATH=\"$BIN:\$PATH\"" >&2
  PATH="$BIN:$PATH"; export PATH
fi
echo "git-mlv installed: $("$BIN/git-mlv" version)"

if [ "$MODE" = "--test" ]; then
  exec "$PY" -m pytest -q -p no:cacheprovider tests
fi
