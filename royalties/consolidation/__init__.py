"""The consolidation of a run: three inputs in, entries, subscribers, tracks and labels out.

``consolidate`` runs the named steps of ``royalties.consolidation.steps`` inside the run's
transaction and times each phase; the caller (``royalties.services.run_execute``) marks the run
succeeded with the returned ``Outcome``, or failed.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from royalties.consolidation import steps
from royalties.consolidation.records import Outcome, RunFailedError
from royalties.consolidation.totals import StreamTotals
from royalties.models import Run
from royalties.rounding import cents_round

__all__ = ["Outcome", "RunFailedError", "consolidate"]


def consolidate(
    run: Run,
    *,
    progress: Callable[[int, int], None] | None,
    phase: Callable[[str], None],
    max_rejected_fraction: Decimal | None = None,
) -> Outcome:
    """Consolidate ``run``; ``max_rejected_fraction`` overrides the setting for this run."""
    inputs = steps.inputs_prepare(run)
    phase("fetch and checksums")
    totals = StreamTotals()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The metadata and subscribers are read while the server loads the streaming log.
        reading = pool.submit(steps.listing_read, inputs, steps.shares_read())
        try:
            loaded = steps.streams_load(run, inputs, totals, progress=progress)
        except Exception:
            reading.result()  # a problem in those inputs is reported first, as they come first
            raise
        phase("streaming log")
        listing = reading.result()
    phase("metadata and subscribers")
    errors = steps.rejections_weigh(loaded, listing, inputs, max_rejected_fraction)
    totals.users.fold()
    totals.tracks.fold()
    phase("aggregates")
    absent = steps.subscribers_store(run, listing, totals)
    phase("subscribers stored")
    labels, unknown = steps.tracks_store(run, listing, totals)
    payout = steps.payout_split(listing.revenue, labels, unknown)
    total_seconds = sum(label.seconds for label in labels) + unknown.totals.seconds
    steps.labels_store(run, labels, payout, total_seconds)
    phase("tracks and labels stored")
    return Outcome(
        checksums=inputs.checksums,
        rows=loaded.rows,
        warnings=steps.warnings_of(listing, loaded, absent, unknown, total_seconds),
        errors=errors,
        revenue=cents_round(listing.revenue),
        total_seconds=total_seconds,
        unattributed_seconds=unknown.totals.seconds,
        unattributed_streams=unknown.totals.streams,
        unattributed_amount=payout.unattributed,
    )
