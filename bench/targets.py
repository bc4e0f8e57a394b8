"""The targets each scenario's figures are held to, printed beside the figures.

One table for every scenario, keyed by the scenario's name and the dotted path of a figure in
its results, so a scenario's code stays about measuring. ``python -m bench`` prints each target
beside its figure after the scenario runs; docs/performance.md shows the same lines.
"""

import operator
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    figure: str  # dotted path in the scenario's figures
    op: str  # ">=", "<=", "<" or "=="
    bound: float
    label: str


_OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, "==": operator.eq}

TARGETS: dict[str, list[Target]] = {
    "ingestion_http": [
        Target("live_event_workers_default.vs_ceiling", ">=", 0.30, "POST /liveEvent vs ceiling"),
        Target("live_event_workers_default.p99_ms", "<", 15, "POST /liveEvent p99 ms"),
        Target("batch_endpoint.events_per_s", ">=", 300_000, "batch endpoint events/s"),
    ],
    "streams": [
        Target("spread_1000_viewers.vs_ceiling", ">=", 0.15, "start/heartbeat/stop vs ceiling"),
        Target("spread_1000_viewers.p99_ms", "<", 20, "start/heartbeat/stop p99 ms"),
        Target("spread_1000_viewers.invariant_violations", "==", 0, "violations, 1,000 viewers"),
        Target("contended_one_viewer.vs_ceiling", ">=", 0.10, "one viewer vs ceiling"),
        Target("contended_one_viewer.invariant_violations", "==", 0, "violations, one viewer"),
        Target("heartbeat_alone.vs_ceiling", ">=", 0.30, "heartbeat alone vs ceiling"),
    ],
    "connections": [
        Target("runserver.growth", "==", 0, "runserver: connection growth over 500 requests"),
        Target("start_command.growth", "==", 0, "start command: connection growth"),
    ],
    "webhooks": [
        Target("post_webhook.vs_ceiling", ">=", 0.25, "POST /webhook vs ceiling"),
        Target("drain_1000.delivered_requests", "==", 1000, "requests delivered of 1,000"),
        Target("drain_1000.requests_with_more_than_one_webhook_id", "==", 0, "two webhook-ids"),
        Target("drain_1000.incomplete_bodies", "==", 0, "incomplete callback bodies"),
        Target("drain_1000.drain_vs_schedule", "<=", 1.25, "drain time / scheduled waits"),
    ],
    "analytics_http": [
        Target("collect_single.vs_ceiling", ">=", 0.30, "single collect vs ceiling"),
        Target("collect_single.p99_ms", "<", 15, "single collect p99 ms"),
        Target("collect_batch.events_per_s", ">=", 200_000, "batch collect events/s"),
    ],
    "analytics_processor": [
        Target("claim_1000000.events_per_s", ">=", 500_000, "processor events/s, 1M events"),
        Target("claim_1000000.rollups_match_the_log", "==", True, "rollups match the log"),
    ],
    "analytics_summary": [
        Target("one_day.p99_ms", "<", 50, "event-summary one day p99 ms"),
        Target("one_day.exact", "==", True, "event-summary one day exact"),
        Target("90_days.p99_ms", "<", 250, "event-summary 90 days p99 ms"),
        Target("90_days.exact", "==", True, "event-summary 90 days exact"),
    ],
    "royalties": [
        Target("consolidation_vs_copy", ">=", 0.5, "consolidation vs plain COPY, 1M rows"),
        Target("compat_report_vs_ceiling", ">=", 0.35, "compat GET /report vs ceiling"),
        Target("compat_user_vs_ceiling", ">=", 0.25, "compat GET /users/{id} vs ceiling"),
    ],
}


def figure_get(figures: dict, path: str):
    value = figures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def targets_check(name: str, figures: dict) -> list[dict]:
    """Each target of scenario ``name`` with its figure and whether it is met (None: absent)."""
    checked = []
    for target in TARGETS.get(name, []):
        value = figure_get(figures, target.figure)
        met = None if value is None else bool(_OPS[target.op](value, target.bound))
        checked.append(
            {
                "label": target.label,
                "figure": target.figure,
                "value": value,
                "target": f"{target.op} {target.bound:g}",
                "met": met,
            }
        )
    return checked


def targets_lines(name: str, figures: dict) -> list[str]:
    lines = []
    for item in targets_check(name, figures):
        verdict = {True: "met", False: "MISSED", None: "not measured"}[item["met"]]
        value = "-" if item["value"] is None else f"{item['value']:,}"
        lines.append(f"{item['label']}: {value} (target {item['target']}) {verdict}")
    return lines
