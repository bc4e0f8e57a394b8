"""The rows a run stores per user and per track, built in Arrow from the totals of the
streaming log, the subscribers and the metadata (no Python loop over users or tracks)."""

from decimal import Decimal

import numpy
import pyarrow
import pyarrow.compute as pc

from royalties.consolidation.records import LabelTotals, Missing, Totals
from royalties.inputs import Metadata
from royalties.models import run_id_range

EXAMPLES = 5
CONTRIBUTION = pyarrow.decimal128(16, 8)


def _ids(run_id: int, count: int) -> pyarrow.Array:
    """Ids of a run's n-th bulk-loaded rows, from 1 (docs/decisions/0011)."""
    first_id, _ = run_id_range(run_id)
    return pyarrow.array(numpy.arange(first_id + 1, first_id + 1 + count, dtype=numpy.int64))


def _missing(table: pyarrow.Table, key: str) -> Missing:
    """Ids, totals and the first few ids (in order) of a table of (key, seconds, streams)."""
    seconds, streams = (pc.sum(table[name]).as_py() or 0 for name in ("seconds", "streams"))
    examples = table.sort_by(key)[key].slice(0, EXAMPLES).to_pylist()
    return Missing(table.num_rows, Totals(seconds, streams), examples)


def subscriber_rows(
    run_id: int, subscribers: pyarrow.Table, users: pyarrow.Table
) -> tuple[pyarrow.Table, Missing]:
    """One row per user of either file, in user_id order (the unique index then grows at its
    right edge), and the listeners absent from the subscribers file."""
    listed = subscribers.drop_columns(["line"])
    joined = listed.join(users, "user_id", join_type="full outer")
    joined = joined.sort_by("user_id")
    subscribed = pc.is_valid(joined["product_type"])
    rows = pyarrow.table(
        {
            "id": _ids(run_id, joined.num_rows),
            "run_id": pyarrow.array(numpy.full(joined.num_rows, run_id, dtype=numpy.int64)),
            "user_id": joined["user_id"],
            "subscribed": subscribed,
            "product_type": pc.fill_null(joined["product_type"], ""),
            "fee": joined["fee"],
            "origin": pc.fill_null(joined["origin"], ""),
            "contribution": pc.fill_null(
                joined["contribution"], pyarrow.scalar(Decimal(0), CONTRIBUTION)
            ),
            "seconds": pc.fill_null(joined["seconds"], 0),
            "streams": pc.fill_null(joined["streams"], 0),
        }
    )
    absent = rows.filter(pc.invert(subscribed)).select(["user_id", "seconds", "streams"])
    return rows, _missing(absent, "user_id")


def track_rows(
    run_id: int, metadata: Metadata, tracks: pyarrow.Table
) -> tuple[pyarrow.Table, list[LabelTotals], Missing]:
    """One row per track of the metadata (track_id order), the totals per label (name order),
    and the tracks of the streaming log absent from the metadata (unattributed)."""
    listed = pyarrow.table(
        {
            "track_id": pyarrow.array(list(metadata.tracks), pyarrow.string()),
            "name": pyarrow.array([name for name, _ in metadata.tracks.values()], pyarrow.string()),
            "label": pyarrow.array([lbl for _, lbl in metadata.tracks.values()], pyarrow.string()),
        }
    )
    joined = listed.join(tracks, "track_id", join_type="left outer").sort_by("track_id")
    rows = pyarrow.table(
        {
            "id": _ids(run_id, joined.num_rows),
            "run_id": pyarrow.array(numpy.full(joined.num_rows, run_id, dtype=numpy.int64)),
            "track_id": joined["track_id"],
            "name": joined["name"],
            "label": joined["label"],
            "seconds": pc.fill_null(joined["seconds"], 0),
            "streams": pc.fill_null(joined["streams"], 0),
        }
    )
    by_label = rows.group_by("label", use_threads=False).aggregate(
        [("track_id", "count"), ("streams", "sum"), ("seconds", "sum")]
    )
    labels = sorted(
        (
            LabelTotals(row["label"], row["track_id_count"], row["streams_sum"], row["seconds_sum"])
            for row in by_label.to_pylist()
        ),
        key=lambda label: label.name,
    )
    unknown = tracks.join(listed.select(["track_id"]), "track_id", join_type="left anti")
    return rows, labels, _missing(unknown, "track_id")
