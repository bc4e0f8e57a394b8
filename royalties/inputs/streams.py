"""The streaming log: every row validated, accepted rows handed on in Arrow tables.

A block of lines is read in one of two ways, with the same result:

- columnar (the common case: a block with no quote character, no blank line and no lone CR):
  Arrow's CSV reader splits it in C++, each column is checked at once (Arrow regular
  expressions, and each distinct date text checked once by ``day_first_date``). Rows the
  column checks do not clear on their own (a space around an id, a lower-case region,
  a missing field...) are checked one by one by ``row_check``, which decides for them: they
  are accepted (as the exact checks accept them) or rejected with their message;
- exact (any other block, or a block Arrow will not read: a wrong number of fields, bytes
  that are not UTF-8): the exact record parser, then ``row_check`` for every row.

In a columnar block every line is one record, so a row's line is the block's first line plus
its index. The checks of the columnar path only ever clear rows ``row_check`` accepts
unchanged: anything else goes to ``row_check``.
"""

import datetime
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

import numpy
import pyarrow
import pyarrow.compute as pc

from royalties.inputs.csvfile import (
    Block,
    Header,
    Rejections,
    block_records,
    blocks,
    columnar_read,
    header_read,
)

MAX_ID_LENGTH = 100
MAX_REGION_LENGTH = 16
MAX_SECONDS_DIGITS = 12
COLUMNS = ("date", "user_id", "region", "track_id", "seconds")

# The rows of a block that were accepted: the line, and the values as they are stored.
SCHEMA = pyarrow.schema(
    [
        ("line", pyarrow.int64()),
        ("date", pyarrow.date32()),
        ("user_id", pyarrow.string()),
        ("region", pyarrow.string()),
        ("track_id", pyarrow.string()),
        ("seconds", pyarrow.int64()),
    ]
)


def clear_id(column: pyarrow.Array, max_length: int) -> pyarrow.Array:
    """Rows whose text ``row_check`` keeps as it is: printable ASCII (no tab, no newline), no
    space at either end (nothing to strip), 1 to ``max_length`` characters."""
    length = pc.binary_length(column)
    return pc.and_(
        pc.and_(pc.ascii_is_printable(column), pc.greater(length, 0)),
        pc.and_(
            pc.less_equal(length, max_length),
            pc.invert(pc.or_(pc.starts_with(column, " "), pc.ends_with(column, " "))),
        ),
    )


def distinct_mapped(
    column: pyarrow.Array | pyarrow.ChunkedArray,
    function: Callable[[str], object],
    type_: pyarrow.DataType,
) -> pyarrow.Array:
    """``function`` applied once per distinct value of ``column``, spread back to every row."""
    if isinstance(column, pyarrow.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    values = [function(text) for text in encoded.dictionary.to_pylist()]
    return pyarrow.array(values, type_).take(encoded.indices)


def _region(raw: str) -> str | None:
    region = raw.strip().upper()
    return region if 0 < len(region) <= MAX_REGION_LENGTH else None


def day_first_date(raw: str) -> datetime.date | None:
    """``dd/mm/yyyy`` (day first) → the date, or None when it is not a date."""
    parts = raw.strip().split("/")
    if len(parts) != 3 or len(parts[2]) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    try:
        return datetime.date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None


class Dates:
    """Each distinct valid date text parsed once per file (bad ones are not kept: there may be
    many)."""

    def __init__(self) -> None:
        self.known: dict[str, datetime.date] = {}

    def __call__(self, raw: str) -> datetime.date | None:
        date = self.known.get(raw)
        if date is None:
            date = day_first_date(raw)
            if date is not None:
                self.known[raw] = date
        return date


AcceptedRow = tuple[int, datetime.date, str, str, str, int]


def row_check(
    line: int, values: list[str], *, dates: Dates, rejections: Rejections
) -> AcceptedRow | None:
    """The exact check of one row (``values`` in ``COLUMNS`` order): the row as stored, or
    None after recording why it is rejected."""
    raw_date, raw_user, raw_region, raw_track, raw_seconds = values
    date = dates(raw_date)
    if date is None:
        if raw_date.strip():
            rejections.add(line, f"bad date {raw_date!r} (expected dd/mm/yyyy)")
        else:
            rejections.add(line, "missing date")
        return None
    seconds = raw_seconds.strip()
    if not (seconds.isdigit() and seconds.isascii()):
        if not seconds:
            rejections.add(line, "missing seconds")
        elif seconds.startswith("-"):
            rejections.add(line, f"negative seconds {seconds!r}")
        else:
            rejections.add(line, f"seconds {seconds!r} is not a whole number")
        return None
    if len(seconds) > MAX_SECONDS_DIGITS:
        rejections.add(line, f"seconds {seconds!r} is out of range")
        return None
    user_id, track_id = raw_user.strip(), raw_track.strip()
    region = raw_region.strip().upper()
    if not user_id or not track_id or not region:
        name = "user_id" if not user_id else "track_id" if not track_id else "region"
        rejections.add(line, f"missing {name}")
        return None
    if max(len(user_id), len(track_id)) > MAX_ID_LENGTH or len(region) > MAX_REGION_LENGTH:
        rejections.add(line, "user_id, track_id or region is too long")
        return None
    return line, date, user_id, region, track_id, int(seconds)


def _table(rows: list[AcceptedRow]) -> pyarrow.Table:
    columns: list[Sequence[object]] = (
        list(zip(*rows, strict=True)) if rows else [[] for _ in SCHEMA]
    )
    return pyarrow.Table.from_arrays(
        [pyarrow.array(values, type=f.type) for values, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA,
    )


def _columnar_accept(
    raw: pyarrow.Table, first_line: int, *, dates: Dates, rejections: Rejections
) -> pyarrow.Table:
    """The accepted rows of a block read by Arrow."""
    date = distinct_mapped(raw["date"], dates, SCHEMA.field("date").type)
    region = distinct_mapped(raw["region"], _region, pyarrow.string())
    seconds = raw["seconds"]
    clear = pc.and_(
        pc.and_(pc.is_valid(date), pc.is_valid(region)),
        pc.and_(
            pc.and_(
                pc.ascii_is_decimal(seconds),
                pc.less_equal(pc.binary_length(seconds), MAX_SECONDS_DIGITS),
            ),
            pc.and_(
                clear_id(raw["user_id"], MAX_ID_LENGTH), clear_id(raw["track_id"], MAX_ID_LENGTH)
            ),
        ),
    )
    lines = pyarrow.array(numpy.arange(first_line, first_line + raw.num_rows, dtype=numpy.int64))
    cleared = pyarrow.Table.from_arrays(
        [
            lines.filter(clear),
            date.filter(clear),
            raw["user_id"].filter(clear),
            region.filter(clear),
            raw["track_id"].filter(clear),
            pc.cast(seconds.filter(clear), pyarrow.int64()),
        ],
        schema=SCHEMA,
    )
    unclear = pc.indices_nonzero(pc.invert(clear))
    if not len(unclear):
        return cleared
    rows = []
    for index, values in zip(unclear.to_pylist(), raw.take(unclear).to_pylist(), strict=True):
        row = row_check(
            first_line + index, [values[c] for c in COLUMNS], dates=dates, rejections=rejections
        )
        if row is not None:
            rows.append(row)
    return pyarrow.concat_tables([cleared, _table(rows)])


def _exact_accept(
    block: Block,
    following: Iterator[Block],
    header: Header,
    *,
    dates: Dates,
    rejections: Rejections,
) -> tuple[pyarrow.Table, int]:
    """The accepted rows of a block read record by record, and how many records it had."""
    order = [header.columns[name] for name in COLUMNS]
    rows, count = [], 0
    for line, record in block_records(
        block, following, delimiter=header.delimiter, rejections=rejections
    ):
        count += 1
        if len(record) != header.width:
            rejections.add(line, f"expected {header.width} fields, found {len(record)}")
            continue
        row = row_check(line, [record[i] for i in order], dates=dates, rejections=rejections)
        if row is not None:
            rows.append(row)
    return _table(rows), count


def streams_read(
    binary: BinaryIO,
    *,
    rejections: Rejections,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[pyarrow.Table]:
    """Tables (``SCHEMA``) of the accepted rows of the streaming log, block by block.

    ``progress(records_read, bytes_read)`` is called after every block.
    """
    header = header_read(binary, source=rejections.source, required=COLUMNS)
    dates, count = Dates(), 0
    following = blocks(binary, first_line=2)
    for block in following:
        raw = columnar_read(block, header, COLUMNS)
        if raw is not None:
            count += raw.num_rows
            table = _columnar_accept(raw, block.first_line, dates=dates, rejections=rejections)
        else:
            table, records = _exact_accept(
                block, following, header, dates=dates, rejections=rejections
            )
            count += records
        if progress is not None:
            progress(count, binary.tell())
        yield table
