"""Seconds and streams per user and per track, summed while the streaming log is read.

Accepted rows are grouped by Arrow (C++) into running sums every few blocks: memory holds the
sums per user and per track plus at most ``GROUP_EVERY_ROWS`` rows, and the database is not
asked to scan the entries again.
"""

import numpy
import pyarrow
import pyarrow.compute as pc

from royalties.inputs import InputError

# Rows gathered before they are grouped into the running sums: in a block most users appear
# once, so grouping block by block would reduce little and cost a pass per block.
GROUP_EVERY_ROWS = 1 << 18
# Arrow sums int64 exactly below this; above it a sum could wrap, so the run stops first.
EXACT_LIMIT = 2**63 - 1


class _Sums:
    """Running (key, seconds, streams), one row per key, plus rows not yet grouped."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.sums = pyarrow.table(
            {key: pyarrow.array([], pyarrow.string())}
            | {name: pyarrow.array([], pyarrow.int64()) for name in ("seconds", "streams")}
        )
        self.pending: list[pyarrow.Table] = []
        self.pending_rows = 0

    def add(self, table: pyarrow.Table) -> None:
        ones = pyarrow.array(numpy.ones(table.num_rows, dtype=numpy.int64))
        self.pending.append(
            pyarrow.table({self.key: table[self.key], "seconds": table["seconds"], "streams": ones})
        )
        self.pending_rows += table.num_rows
        if self.pending_rows >= GROUP_EVERY_ROWS:
            self.fold()

    def fold(self) -> None:
        """Group the pending rows into the running sums."""
        if not self.pending:
            return
        both = pyarrow.concat_tables([self.sums, *self.pending])
        grouped = both.group_by(self.key, use_threads=False).aggregate(
            [("seconds", "sum"), ("streams", "sum")]
        )
        self.sums = grouped.select([self.key, "seconds_sum", "streams_sum"]).rename_columns(
            [self.key, "seconds", "streams"]
        )
        self.pending, self.pending_rows = [], 0

    def result(self) -> pyarrow.Table:
        """(key, seconds, streams), one row per key."""
        self.fold()
        return self.sums


class StreamTotals:
    def __init__(self) -> None:
        self.users, self.tracks = _Sums("user_id"), _Sums("track_id")
        self.bound = 0  # no sum can exceed this: rows x the largest seconds, block by block

    def add(self, table: pyarrow.Table) -> None:
        if not table.num_rows:
            return
        self.bound += table.num_rows * pc.max(table["seconds"]).as_py()
        if self.bound > EXACT_LIMIT:
            raise InputError(
                "streams: the seconds add up to more than 9.2 x 10^18, beyond exact totals."
            )
        self.users.add(table)
        self.tracks.add(table)
