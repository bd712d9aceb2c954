"""git mlv version."""
from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from gitext import __version__

if TYPE_CHECKING:
    import argparse


def run_version(args: argparse.Namespace) -> int:
    print(f"git-mlv {__version__} (Python {platform.python_version()})")
    return 0
