from __future__ import annotations

import sys

from gitext.cli import main

sys.exit(main())
