"""The admin index's dashboard: each figure exact on known data, the same page on an empty
database, and a number of queries that does not grow with the rows."""

import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.tasks import async_task

from analytics.demo import demo_load as analytics_demo_load
from core.charts import BAR_TOP, bar_chart_build, column_chart_build, hour_chart_build
from core.dashboard import dashboard_get
from ingestion.demo import demo_load as ingestion_demo_load
from royalties import selectors as royalties_selectors
from royalties.demo import demo_load as royalties_demo_load
from streams.models import RefusalHour, Viewer
from streams.services import session_start, viewers_upsert
from webhooks.breaker import breaker_record_failure, breakers_ensure
from webhooks.models import Delivery, DeliveryState
from webhooks.services import collection_create

pytestmark = pytest.mark.django_db

# Queries of dashboard_get(): webhooks queue (5), latest run, ingestion per day, analytics'
# latest day, streams active, refusals and refusals per hour (3), health (database and cluster
# stats: 2), pending ingestion and analytics events (2), the task queue; with data also the
# run's labels and the analytics days.
EMPTY_QUERIES = 16
DATA_QUERIES = 18


@pytest.fixture(autouse=True)
def _label_cache_cleared():
    royalties_selectors._label_amounts.cache_clear()


@pytest.fixture
def operator_client(client):
    user = get_user_model().objects.create_superuser("dash-operator", "d@example.com", None)
    client.force_login(user)
    return client


def figures(html: str) -> dict[str, str]:
    """data-figure="name" → the element's text (tags inside it dropped)."""
    found = re.findall(r'data-figure="([^"]+)">(.*?)</(?:dd|td|strong)>', html, re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in found}


def _webhooks_known() -> None:
    breakers_ensure(providers=["gas", "internet"])
    for _ in range(5):  # WEBHOOKS_BREAKER_FAILURES: the fifth opens it
        breaker_record_failure(provider="gas", probe=False, now=timezone.now())
    now = timezone.now()
    states = [
        ("delivered", DeliveryState.DELIVERED, None, now),
        ("retrying", DeliveryState.PENDING, now + timedelta(minutes=5), None),
        ("failed-1", DeliveryState.FAILED, None, None),
        ("failed-2", DeliveryState.FAILED, None, None),
    ]
    for webhook_id, state, next_at, delivered_at in states:
        request = collection_create(providers=["gas"], callback_url="https://cb.example/h")
        Delivery.objects.create(
            request=request, webhook_id=webhook_id, body="{}", state=state,
            attempts=1, next_attempt_at=next_at, window_ends_at=now, created_at=now,
            delivered_at=delivered_at,
        )  # fmt: skip
        if state == DeliveryState.DELIVERED:
            request.status = "delivered"
            request.save(update_fields=["status"])


def _known_data() -> None:
    out = io.StringIO()
    royalties_demo_load(stdout=out)
    ingestion_demo_load(stdout=out)
    analytics_demo_load(stdout=out)
    viewers_upsert(limits={"alice": None, "bob": 1})
    session_start(user_id="alice", device_id="tv")
    session_start(user_id="bob", device_id="phone")
    with pytest.raises(Exception, match="limit"):
        session_start(user_id="bob", device_id="tablet")
    _webhooks_known()
    async_task("math.floor", 1.5)


def test_every_figure_on_known_data(operator_client):
    _known_data()

    response = operator_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    assert figures(html) == {
        "royalties-revenue": "178.94",
        "ingestion-events": "5",
        "analytics-events": "60",
        "active-streams": "2",
        "viewers-refused-hour": "1",
        "refusals-total": "1",
        "refusals-hours": "1",
        "deliveries-delivered": "1",
        "deliveries-retrying": "1",
        "deliveries-failed": "2",
        "database": "ok",
        "workers": "0",
        "pending-ingestion": "0",
        "pending-analytics": "0",
        "pending-webhooks": "4",
        "pending-tasks": "1",
    }
    bars = re.findall(r'data-label="([^"]+)" data-value="([^"]+)"', html)
    assert bars == [("label 3", "73.31"), ("label 1", "72.73"), ("label 2", "32.90")]
    columns = dict(
        re.findall(
            r'data-at="([^"]+)" data-count="(\d+)"',
            html.split("chart-analytics")[1].split("</svg>")[0],
        )
    )
    assert columns == {
        **{str(date(2024, 2, 11) + timedelta(days=n)): "0" for n in range(9)},
        **{f"2024-02-{day}": "12" for day in range(20, 25)},
    }
    assert re.search(r'<td>gas</td><td class="breaker-open">', html)
    assert re.search(r'<td>internet</td><td class="breaker-closed">', html)


def test_the_dashboard_on_an_empty_database(operator_client):
    response = operator_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "No royalties run has succeeded yet." in html
    assert "No analytics events processed yet." in html
    assert "No provider called yet" in html
    values = figures(html)
    assert values["ingestion-events"] == "0"
    assert values["active-streams"] == "0"
    assert values["deliveries-failed"] == "0"
    assert values["pending-tasks"] == "0"
    assert "royalties-revenue" not in values


def _more_rows() -> None:
    viewers_upsert(limits={f"viewer-{n}": None for n in range(20)})
    for n in range(20):
        session_start(user_id=f"viewer-{n}", device_id="tv")
    for _ in range(10):
        collection_create(providers=["gas", "internet"], callback_url="https://cb.example/h")
    for n in range(10):
        async_task("math.floor", n)


def test_queries_do_not_grow_with_the_rows(django_assert_num_queries):
    with django_assert_num_queries(EMPTY_QUERIES):
        empty = dashboard_get()
    assert empty.latest_run is None
    _known_data()
    royalties_selectors._label_amounts.cache_clear()
    with django_assert_num_queries(DATA_QUERIES):
        known = dashboard_get()
    _more_rows()
    royalties_selectors._label_amounts.cache_clear()
    with django_assert_num_queries(DATA_QUERIES):
        more = dashboard_get()
    assert known.latest_run is not None
    assert known.latest_run.revenue == Decimal("178.94")
    assert (known.active_streams, more.active_streams) == (2, 22)
    assert (known.pending.tasks_queued, more.pending.tasks_queued) == (1, 11)


def test_bar_chart_keeps_the_top_labels_and_sums_the_rest():
    amounts = [(f"label {n:02}", Decimal(n)) for n in range(1, 15)]
    chart = bar_chart_build(amounts, unattributed=Decimal("2.50"))
    names = [bar.name for bar in chart.bars]
    assert names == [f"label {n:02}" for n in range(14, 4, -1)] + ["4 other labels", "unattributed"]
    assert len(names) == BAR_TOP + 2
    assert chart.bars[0].width == 340.0  # the largest fills the span
    assert chart.bars[-2].value == "10.00"  # 1 + 2 + 3 + 4
    assert [bar.muted for bar in chart.bars[-3:]] == [False, True, True]


def test_column_chart_fills_days_without_data():
    chart = column_chart_build([(date(2026, 1, 3), 4)], last_day=date(2026, 1, 4), days=4)
    assert [(c.at.day, c.count) for c in chart.columns] == [(1, 0), (2, 0), (3, 4), (4, 0)]
    assert chart.peak == 4
    assert chart.total == 4
    assert chart.columns[2].height == chart.base - 16


def test_hour_chart_fills_hours_without_data():
    last = datetime(2026, 1, 4, 2, tzinfo=UTC)
    counts = [(last - timedelta(hours=1), 6), (last, 3)]
    chart = hour_chart_build(counts, last_hour=last, hours=4)
    hours = [last - timedelta(hours=n) for n in (3, 2, 1, 0)]
    assert [(c.at, c.count) for c in chart.columns] == list(zip(hours, [0, 0, 6, 3], strict=True))
    assert (chart.peak, chart.total, chart.unit) == (6, 9, "hour")
    assert chart.first == datetime(2026, 1, 3, 23, tzinfo=UTC)


def test_refusals_per_hour_chart_sums_viewers_over_the_last_24_hours(operator_client):
    viewers_upsert(limits={"alice": None, "bob": None})
    alice, bob = Viewer.objects.order_by("user_id")
    this_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows = [(alice, 0, 2), (bob, 0, 5), (alice, 3, 1), (bob, 23, 7), (alice, 24, 100)]
    for viewer, hours_ago, count in rows:
        RefusalHour.objects.create(
            viewer=viewer, hour=this_hour - timedelta(hours=hours_ago), count=count
        )

    html = operator_client.get("/admin/").content.decode()

    assert figures(html)["refusals-hours"] == "15"  # the hour 24 hours ago is out of the chart
    chart = html.split('id="chart-refusals"')[1].split("</svg>")[0]
    columns = re.findall(r'data-at="([^"]+)" data-count="(\d+)"', chart)
    assert len(columns) == 24
    at = [(this_hour - timedelta(hours=n)).strftime("%Y-%m-%d %H:%M") for n in (23, 3, 0)]
    assert columns[0] == (at[0], "7")
    assert columns[20] == (at[1], "1")
    assert columns[23] == (at[2], "7")
    assert sum(int(count) for _, count in columns) == 15


def test_an_app_page_has_the_app_list_and_no_dashboard(operator_client):
    html = operator_client.get("/admin/royalties/").content.decode()
    assert 'id="dashboard"' not in html
    assert "What is where" not in html
    assert "Royalties administration" in html
