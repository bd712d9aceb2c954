from tests.security.hostile import hostile_server, sentinel  # noqa: F401 - fixtures
from tests.servers import S3Server, _moto_server_session, moto_server, seaweedfs  # noqa: F401 - fixtures
