"""The demo data: the fixtures consolidated once, idempotently."""

from io import StringIO

import pytest

from royalties.demo import demo_load
from royalties.models import Entry, Run

pytestmark = pytest.mark.django_db


def test_demo_load_is_idempotent(api_client):
    first, second = StringIO(), StringIO()
    demo_load(stdout=first)
    demo_load(stdout=second)

    run = Run.objects.get()
    assert first.getvalue() == f"royalties: demo run {run.pk} succeeded (revenue 178.94)\n"
    assert second.getvalue() == f"royalties: demo run {run.pk} exists\n"
    assert Entry.objects.count() == 76
    assert api_client.get("/users/7699007").json() == {"User": "7699007", "Total Streamed": 250460}
