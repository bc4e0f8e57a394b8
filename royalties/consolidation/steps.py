"""The consolidation of one run, step by step, inside the run's transaction.

inputs checked → metadata and subscribers read → streaming log stored (and totalled) →
rejections weighed → subscribers stored → tracks stored → revenue split → labels stored.
Each step is a function over typed records; the SQL each needs is in ``royalties.sql``.
"""

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import numpy
import pyarrow
import pyarrow.compute as pc
from django.conf import settings

from core.errors import ApplicationError
from royalties import sql
from royalties.consolidation import tables
from royalties.consolidation.records import (
    Inputs,
    LabelTotals,
    Listing,
    Loaded,
    Missing,
    Payout,
    RunFailedError,
)
from royalties.consolidation.totals import StreamTotals
from royalties.inputs import (
    RejectedRow,
    Rejections,
    file_sha256,
    metadata_fetch,
    metadata_read,
    streams_read,
    subscribers_read,
)
from royalties.models import Entry, Label, RevenueShare, Run, Subscriber, Track, run_id_range
from royalties.rounding import amounts_split, cents_round
from royalties.storage import inputs_dir

SHARE_PLACES = Decimal("0.00000001")

Progress = Callable[[int, int], None]
Phase = Callable[[str], None]


def inputs_prepare(run: Run) -> Inputs:
    """Fetch the metadata if it is a URL (the snapshot becomes the run's tracks file), check
    that every input is still there, and checksum them."""
    if run.tracks_url:
        snapshot = inputs_dir() / "metadata" / f"run-{run.pk}-tracks.json"
        metadata_fetch(run.tracks_url, dest=snapshot)
        run.tracks_path = str(snapshot)
    paths = {"streams": run.streams_path, "users": run.users_path, "tracks": run.tracks_path}
    for name, path in paths.items():
        if not Path(path).is_file():
            raise ApplicationError(f"{name}: the input file is gone: {path}")
    checksums = {name: file_sha256(path) for name, path in paths.items()}
    return Inputs(run.streams_path, run.users_path, run.tracks_path, checksums)


def shares_read() -> dict[str, Decimal]:
    """The revenue share of each origin (``RevenueShare``)."""
    return {share.origin: share.share for share in RevenueShare.objects.all()}


def listing_read(inputs: Inputs, shares: dict[str, Decimal]) -> Listing:
    """Read the metadata and the subscribers (files only, no database: it runs in a thread
    while the streaming log is loaded)."""
    metadata = metadata_read(inputs.tracks_path)
    rejections = Rejections("users", settings.ROYALTIES_MAX_ERRORS_LISTED)
    with open(inputs.users_path, "rb") as handle:
        subscribers = subscribers_read(handle, shares=shares, rejections=rejections)
    # decimal128(38, 8): exact for any revenue below 10^30
    revenue = pc.sum(subscribers["contribution"]).as_py() or Decimal(0)
    return Listing(metadata, subscribers, rejections, revenue)


def streams_load(
    run: Run, inputs: Inputs, totals: StreamTotals, *, progress: Progress | None
) -> Loaded:
    """Store every accepted row of the log as an ``Entry`` (id = run x 10^10 + line), adding
    it to the totals on the way."""
    first_id, _ = run_id_range(run.pk)
    rejections = Rejections("streams", settings.ROYALTIES_MAX_ERRORS_LISTED)

    def entries(handle: BinaryIO) -> Iterator[pyarrow.Table]:
        for table in streams_read(handle, rejections=rejections, progress=progress):
            totals.add(table)
            ids = pc.add(table["line"], first_id)
            run_ids = pyarrow.array(numpy.full(table.num_rows, run.pk, dtype=numpy.int64))
            yield table.add_column(0, "id", ids).add_column(1, "run_id", run_ids)

    with open(inputs.streams_path, "rb") as handle:
        loaded = sql.arrow_load(table=Entry._meta.db_table, tables=entries(handle))
    return Loaded(loaded, rejections)


def rejections_weigh(
    loaded: Loaded, listing: Listing, inputs: Inputs, max_fraction: Decimal | None = None
) -> list[RejectedRow]:
    """The listed errors of both CSV files; the run fails if either has more rejected rows
    than ``max_fraction`` (default ``ROYALTIES_MAX_REJECTED_FRACTION``) allows."""
    errors = loaded.rejections.listed + listing.rejections.listed
    limit = settings.ROYALTIES_MAX_REJECTED_FRACTION if max_fraction is None else max_fraction
    for name, bad, total in (
        ("streams", loaded.rejections.count, loaded.rows["read"]),
        (
            "users",
            listing.rejections.count,
            listing.rejections.count + listing.subscribers.num_rows,
        ),
    ):
        if total and Decimal(bad) / Decimal(total) > limit:
            raise RunFailedError(
                f"{name}: {bad} of {total} rows rejected, more than the allowed "
                f"{(limit * 100).normalize():f}%; see the errors for their line numbers.",
                rows=loaded.rows,
                errors=errors,
                checksums=inputs.checksums,
            )
    return errors


def subscribers_store(run: Run, listing: Listing, totals: StreamTotals) -> Missing:
    """One ``Subscriber`` per user of either file; returns the listeners without a fee."""
    rows, absent = tables.subscriber_rows(run.pk, listing.subscribers, totals.users.result())
    sql.arrow_load(table=Subscriber._meta.db_table, tables=[rows])
    return absent


def tracks_store(
    run: Run, listing: Listing, totals: StreamTotals
) -> tuple[list[LabelTotals], Missing]:
    """One ``Track`` per track of the metadata; returns the totals per label and the streams
    of tracks the metadata lacks."""
    rows, labels, unknown = tables.track_rows(run.pk, listing.metadata, totals.tracks.result())
    sql.arrow_load(table=Track._meta.db_table, tables=[rows])
    return labels, unknown


def payout_split(revenue: Decimal, labels: list[LabelTotals], unknown: Missing) -> Payout:
    """The exact revenue split by seconds over the labels (name order) and the unattributed
    line (last), in cents that add up (docs/decisions/0010). No seconds at all: the whole
    revenue is unattributed."""
    seconds = [label.seconds for label in labels] + [unknown.totals.seconds]
    if not sum(seconds):
        zero = Decimal("0.00")
        return Payout({label.name: zero for label in labels}, cents_round(revenue))
    amounts = amounts_split(total=revenue, weights=dict(enumerate(seconds)))
    by_label = {label.name: amounts[index] for index, label in enumerate(labels)}
    return Payout(by_label, amounts[len(labels)])


def labels_store(run: Run, labels: list[LabelTotals], payout: Payout, total_seconds: int) -> None:
    Label.objects.bulk_create(
        [
            Label(
                run_id=run.pk,
                name=label.name,
                tracks=label.tracks,
                streams=label.streams,
                seconds=label.seconds,
                share=(
                    (Decimal(label.seconds) / Decimal(total_seconds)).quantize(SHARE_PLACES)
                    if total_seconds
                    else Decimal(0)
                ),
                amount=payout.labels[label.name],
            )
            for label in labels
        ],
        batch_size=1000,
    )


def warnings_of(
    listing: Listing, loaded: Loaded, absent: Missing, unknown: Missing, payout_seconds: int
) -> list[str]:
    warnings = list(listing.metadata.warnings)
    if absent.ids:
        warnings.append(
            f"{absent.totals.streams} streams ({absent.totals.seconds} s) by {absent.ids} users "
            f"absent from the subscribers file (e.g. {', '.join(absent.examples)}): counted in "
            f"the seconds, no fee."
        )
    if unknown.ids:
        warnings.append(
            f"{unknown.totals.streams} streams ({unknown.totals.seconds} s) of {unknown.ids} "
            f"tracks absent from the metadata (e.g. {', '.join(unknown.examples)}) are "
            f"unattributed: their amount is withheld."
        )
    if not payout_seconds:
        warnings.append("The streaming log has no seconds: the whole revenue is unattributed.")
    if loaded.rejections.count:
        warnings.append(
            f"{loaded.rejections.count} rows of the streaming log were rejected (see the errors)."
        )
    if listing.rejections.count:
        warnings.append(
            f"{listing.rejections.count} rows of the subscribers file were rejected (see the "
            f"errors)."
        )
    return warnings
