from pathlib import Path

import pytest
from rest_framework.test import APIClient

FIXTURE = Path(__file__).resolve().parents[2] / "ingestion" / "fixtures" / "demo" / "events.jsonl"


@pytest.fixture
def ingest_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="secret")
    return client


@pytest.fixture
def fixture_path() -> Path:
    return FIXTURE
