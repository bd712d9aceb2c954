"""git mlv version / manpage."""
from __future__ import annotations

import argparse
import platform

from gitext import __version__


def run_version(args: argparse.Namespace) -> int:
    print(f"git-mlv {__version__} (Python {platform.python_version()})")
    return 0


def run_manpage(args: argparse.Namespace) -> int:
    from gitext.cli import build_parser
    from gitext.manpage import render

    print(render(build_parser()), end="")
    return 0
