import io

from analytics.demo import DEMO_APP, demo_load
from analytics.models import App, DailyCount, Event
from analytics.selectors import event_pending_count


def test_demo_loads_once_and_processes(db):
    first, second = io.StringIO(), io.StringIO()
    demo_load(stdout=first)
    demo_load(stdout=second)
    assert "API key ak_" in first.getvalue()
    assert "already loaded" in second.getvalue()
    assert "API key" not in second.getvalue()
    assert App.objects.filter(name=DEMO_APP).count() == 1
    assert Event.objects.count() == 60
    assert event_pending_count() == 0
    assert sum(DailyCount.objects.values_list("count", flat=True)) == 60
