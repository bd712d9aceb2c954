"""Console-script entry point (kept apart so 'import gitext.cli' stays side-effect free)."""
from __future__ import annotations

import sys


def run() -> None:
    from gitext.cli import main

    sys.exit(main())
