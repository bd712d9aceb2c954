"""Fixtures for integration tests: S3 servers on 127.0.0.1 (see tests/servers.py)."""
from __future__ import annotations

import pytest

from tests.servers import S3Server, _moto_server_session, moto_server, seaweedfs  # noqa: F401 - fixtures


@pytest.fixture(params=["moto", "seaweedfs"])
def s3_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Each S3 test runs against moto's server and against a real SeaweedFS; the
    server's credentials reach git's child processes through the environment."""
    server: S3Server = request.getfixturevalue("moto_server" if request.param == "moto" else "seaweedfs")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return server
