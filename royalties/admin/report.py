"""The run page's report: what ``run/change_form.html`` shows for a run in any state (queued,
running, failed before or after the streaming log was read, succeeded), numbers formatted as
the report gives them, and links only to lists the run filled."""

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from royalties import selectors
from royalties.admin.formatting import count, money, percent, seconds
from royalties.admin.results import changelist_url
from royalties.models import Entry, Label, Run, Subscriber, Track


@dataclass(frozen=True)
class PayoutRow:
    name: str
    url: str
    tracks: str
    streams: str
    seconds: str
    share: str
    amount: str


@dataclass(frozen=True)
class InputFile:
    role: str
    name: str
    where: str
    sha256: str


def input_names(run: Run) -> list[str]:
    """The inputs' own file names (the metadata's URL when it came from one)."""
    tracks = run.tracks_url or Path(run.tracks_path).name
    return [Path(run.streams_path).name, Path(run.users_path).name, tracks]


def _inputs(run: Run) -> list[InputFile]:
    sums = run.checksums or {}
    files = [("streams", run.streams_path), ("users", run.users_path)]
    files += [] if run.tracks_url else [("tracks", run.tracks_path)]
    inputs = [InputFile(role, Path(p).name, p, sums.get(role, "")) for role, p in files]
    if run.tracks_url:
        inputs.append(InputFile("tracks", run.tracks_url, run.tracks_path, sums.get("tracks", "")))
    return inputs


def _share(part: int | None, total: int | None) -> str:
    return percent(Decimal(part or 0) / Decimal(total)) if total else "-"


def _payout(run: Run, labels: list[Label]) -> list[PayoutRow]:
    rows = [
        PayoutRow(
            label.name,
            changelist_url(Track, run=run.pk, label=label.name) if label.tracks else "",
            count(label.tracks),
            count(label.streams),
            count(label.seconds),
            percent(label.share),
            money(label.amount),
        )
        for label in labels
    ]
    streams = sum(label.streams for label in labels) + (run.unattributed_streams or 0)
    rows.append(
        PayoutRow(
            "(unattributed)",
            "",
            "",
            count(run.unattributed_streams),
            count(run.unattributed_seconds),
            _share(run.unattributed_seconds, run.total_seconds),
            money(run.unattributed_amount),
        )
    )
    tracks = count(sum(label.tracks for label in labels))
    total_share = _share(run.total_seconds, run.total_seconds)
    revenue = money(run.revenue)
    seconds_ = count(run.total_seconds)
    rows.append(PayoutRow("(total)", "", tracks, count(streams), seconds_, total_share, revenue))
    return rows


def _links(run: Run, results: selectors.RunResults) -> list[tuple[str, str]]:
    lists = [
        (Label, len(results.labels), "labels"),
        (Track, results.tracks, "tracks"),
        (Subscriber, results.subscribers, "subscribers and listeners"),
        (Entry, results.entries, "entries"),
    ]
    return [
        (changelist_url(model, run=run.pk), f"{count(n)} {title}") for model, n, title in lists if n
    ]


def _rejected(run: Run) -> dict[str, Any]:
    listed = [
        {"file": e.get("file", ""), "line": count(e.get("line")), "error": e.get("error", "")}
        for e in run.errors or []
    ]
    total = int((run.rows or {}).get("rejected") or len(listed))
    more = total > len(listed)
    return {"rejected": listed, "rejected_total": count(total), "rejected_more": more}


def run_report(run: Run) -> dict[str, Any]:
    """The template's context for one run."""
    results = selectors.run_results(run=run)
    timings = [(phase, seconds(value)) for phase, value in (run.timings or {}).items()]
    rows = run.rows or {}
    duration = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at and run.started_at
        else None
    )
    return {
        "run": run,
        "inputs": _inputs(run),
        "rows": [(key, count(rows.get(key))) for key in ("read", "loaded", "rejected") if rows],
        "payout": _payout(run, list(results.labels)) if run.status == Run.Status.SUCCEEDED else [],
        "links": _links(run, results),
        "timings": timings,
        "timings_total": seconds(sum((run.timings or {}).values())) if timings else "",
        "duration": seconds(duration) if duration is not None else "",
        **_rejected(run),
    }
