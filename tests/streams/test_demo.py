from io import StringIO

import pytest

from streams.demo import demo_load
from streams.models import Viewer

pytestmark = pytest.mark.django_db


def test_demo_viewers_are_idempotent():
    out = StringIO()
    demo_load(stdout=out)
    first = list(Viewer.objects.values_list("user_id", "max_streams", "updated_at"))
    assert [(u, m) for u, m, _ in first] == [
        ("alice", None),
        ("bob", 1),
        ("carol", 5),
        ("family-42", 4),
    ]
    demo_load(stdout=out)
    assert list(Viewer.objects.values_list("user_id", "max_streams", "updated_at")) == first
    assert "4 demo viewer(s) created" in out.getvalue()
    assert "0 demo viewer(s) created" in out.getvalue()
