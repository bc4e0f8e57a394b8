import pytest


@pytest.fixture
def session_client(make_client):
    """A service client: token + the permission to manage sessions."""
    return make_client(perms=("streams.manage_sessions",))
