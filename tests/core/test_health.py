"""GET /healthz answers 200 only while the database answers and a worker cluster is alive.

The worker is a real ``manage.py qcluster`` process against the test database.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings


def _wait_for_status(client, wanted: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/healthz")
        if response.status_code == wanted or time.monotonic() > deadline:
            assert response.status_code == wanted, response.json()
            return response.json()
        time.sleep(0.25)


@pytest.mark.django_db(transaction=True)
def test_health_follows_the_worker_cluster(client, test_database_url):
    body = client.get("/healthz").json()
    assert body == {
        "status": "unavailable",
        "database": "ok",
        "worker": {"clusters": 0, "last_seen": None},
    }
    assert client.get("/healthz").status_code == 503

    env = {**os.environ, "DATABASE_URL": test_database_url, "Q_WORKERS": "1"}
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = _wait_for_status(client, 200, seconds=60)
        assert body["status"] == "ok"
        assert body["database"] == "ok"
        assert body["worker"]["clusters"] == 1
        assert body["worker"]["last_seen"] is not None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    # A cluster that stopped cleanly is gone at once, not when its last status goes stale.
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"clusters": 0, "last_seen": None}


def test_health_is_in_the_schema_without_auth(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/healthz"]["get"]
    # 400: a NUL in the URL, refused before any view (declared on every operation).
    assert set(operation["responses"]) == {"200", "400", "503"}
    assert operation.get("security") in ([], [{}], None)
    refused = client.get("/healthz", {"probe": "a\x00b"})
    assert (refused.status_code, refused.json()["code"]) == (400, "nul_character")
