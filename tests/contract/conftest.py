"""The contract suite also runs on a real SeaweedFS (tests/servers.py)."""
from __future__ import annotations

from tests.servers import seaweedfs  # noqa: F401 - fixture
