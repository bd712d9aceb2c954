"""git mlv: version the large files of machine-learning projects inside Git."""
from __future__ import annotations

__version__ = "0.1.0"
