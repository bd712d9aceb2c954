"""git mlv version."""
from __future__ import annotations

import platform

from gitext import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs ms; type checkers honour the name
if TYPE_CHECKING:
    import argparse


def run_version(args: argparse.Namespace) -> int:
    print(f"git-mlv {__version__} (Python {platform.python_version()})")
    return 0
