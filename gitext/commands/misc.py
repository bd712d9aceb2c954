"""git mlv version."""
from __future__ import annotations

import argparse
import platform

from gitext import __version__


def run_version(args: argparse.Namespace) -> int:
    print(f"git-mlv {__version__} (Python {platform.python_version()})")
    return 0
