"""The subscribers file: one row per user with a fee and the origin of the subscription.

Read like the streaming log (``royalties.inputs.streams``): a block of plain lines is split by
Arrow and checked column by column (each distinct fee and origin text once); rows those checks
do not clear, and blocks Arrow cannot read, are checked row by row by ``_row_check``. A user
listed twice keeps the first line; the later one is rejected.
"""

from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, NamedTuple

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
from royalties.inputs.streams import clear_id, distinct_mapped

MAX_ID_LENGTH = 100
MAX_PRODUCT_TYPE_LENGTH = 64
COLUMNS = ("user_id", "product_type", "fee", "origin")
FEE = pyarrow.decimal128(12, 4)
CONTRIBUTION = pyarrow.decimal128(16, 8)

# The valid subscribers: user_id, product_type, fee, origin, contribution (fee x share), line.
SCHEMA = pyarrow.schema(
    [
        ("user_id", pyarrow.string()),
        ("product_type", pyarrow.string()),
        ("fee", FEE),
        ("origin", pyarrow.string()),
        ("contribution", CONTRIBUTION),
        ("line", pyarrow.int64()),
    ]
)


class SubscriberRow(NamedTuple):
    user_id: str
    product_type: str
    fee: Decimal
    origin: str
    contribution: Decimal  # fee x the origin's revenue share, exact
    line: int


def fee_parse(raw: str) -> Decimal | None:
    """A non-negative amount with at most 4 decimals, comma or point; None if it is not one."""
    try:
        fee = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
    if not fee.is_finite() or fee < 0 or fee >= Decimal("1e8"):
        return None
    exponent = fee.as_tuple().exponent  # an int for a finite amount ("n", "N", "F" otherwise)
    if not isinstance(exponent, int) or exponent < -4:
        return None
    return fee


class _Checks:
    """What the row checks share: the revenue shares, fees parsed once per distinct text, and
    the line of every user accepted so far (a later line of the same user is rejected)."""

    def __init__(self, shares: dict[str, Decimal], rejections: Rejections) -> None:
        self.shares, self.rejections = shares, rejections
        self.fees: dict[str, Decimal | None] = {}
        self.seen: dict[str, int] = {}

    def fee(self, raw: str) -> Decimal | None:
        if raw in self.fees:
            return self.fees[raw]
        fee = fee_parse(raw)
        if len(self.fees) < 10_000:
            self.fees[raw] = fee
        return fee


def _row_check(line: int, values: list[str], checks: _Checks) -> SubscriberRow | None:
    """The exact check of one row (``values`` in ``COLUMNS`` order): the subscriber, or None
    after recording why the row is rejected."""
    reject = checks.rejections.add
    user_id, product_type, raw_fee = values[0].strip(), values[1].strip(), values[2].strip()
    origin = values[3].strip().lower()
    if not (user_id and product_type and raw_fee and origin):
        found = dict(zip(COLUMNS, (user_id, product_type, raw_fee, origin), strict=True))
        reject(line, f"missing {', '.join(name for name, v in found.items() if not v)}")
        return None
    if len(user_id) > MAX_ID_LENGTH or len(product_type) > MAX_PRODUCT_TYPE_LENGTH:
        reject(line, "user_id or product_type is too long")
        return None
    fee = checks.fee(raw_fee)
    if fee is None:
        reject(line, f"bad fee {raw_fee!r} (expected an amount like 7,99)")
        return None
    share = checks.shares.get(origin)
    if share is None:
        reject(line, f"unknown origin {origin!r} (known: {', '.join(sorted(checks.shares))})")
        return None
    if user_id in checks.seen:
        reject(line, f"user {user_id} is already listed on line {checks.seen[user_id]}")
        return None
    checks.seen[user_id] = line
    return SubscriberRow(user_id, product_type, fee, origin, fee * share, line)


def _table(rows: list[SubscriberRow]) -> pyarrow.Table:
    columns: list[Sequence[object]] = (
        list(zip(*rows, strict=True)) if rows else [[] for _ in SCHEMA]
    )
    return pyarrow.Table.from_arrays(
        [pyarrow.array(values, type=f.type) for values, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA,
    )


def _columnar_accept(raw: pyarrow.Table, first_line: int, checks: _Checks) -> pyarrow.Table:
    """The accepted rows of a block read by Arrow."""
    fee = distinct_mapped(raw["fee"], lambda text: checks.fee(text.strip()), FEE)
    origin = distinct_mapped(raw["origin"], lambda text: text.strip().lower(), pyarrow.string())
    share = distinct_mapped(origin, checks.shares.get, pyarrow.decimal128(5, 4))
    users = raw["user_id"].to_pylist()
    repeated = len(set(users)) != len(users) or any(user in checks.seen for user in users)
    clear = pc.and_(
        pc.and_(pc.is_valid(fee), pc.is_valid(share)),
        pc.and_(
            clear_id(raw["user_id"], MAX_ID_LENGTH),
            clear_id(raw["product_type"], MAX_PRODUCT_TYPE_LENGTH),
        ),
    )
    if repeated or not pc.all(clear).as_py():  # rare: every row by the exact check, in order
        values = zip(*(raw[name].to_pylist() for name in COLUMNS), strict=True)
        rows = [_row_check(first_line + i, list(v), checks) for i, v in enumerate(values)]
        return _table([row for row in rows if row is not None])
    lines = numpy.arange(first_line, first_line + raw.num_rows, dtype=numpy.int64)
    checks.seen.update(zip(users, lines.tolist(), strict=True))
    contribution = pc.cast(pc.multiply(fee, share), CONTRIBUTION)
    columns = [raw["user_id"], raw["product_type"], fee, origin, contribution]
    return pyarrow.Table.from_arrays([*columns, pyarrow.array(lines)], schema=SCHEMA)


def _exact_accept(
    block: Block, following: Iterator[Block], header: Header, checks: _Checks
) -> pyarrow.Table:
    order = [header.columns[name] for name in COLUMNS]
    rows = []
    for line, record in block_records(
        block, following, delimiter=header.delimiter, rejections=checks.rejections
    ):
        if len(record) != header.width:
            checks.rejections.add(line, f"expected {header.width} fields, found {len(record)}")
            continue
        row = _row_check(line, [record[i] for i in order], checks)
        if row is not None:
            rows.append(row)
    return _table(rows)


def subscribers_read(
    binary: BinaryIO, *, shares: dict[str, Decimal], rejections: Rejections
) -> pyarrow.Table:
    """Every valid subscriber (``SCHEMA``), in file order (memory grows with subscribers, not
    with streams)."""
    header = header_read(binary, source=rejections.source, required=COLUMNS)
    checks = _Checks(shares, rejections)
    parts = []
    following = blocks(binary, first_line=2)
    for block in following:
        raw = columnar_read(block, header, COLUMNS)
        if raw is not None:
            parts.append(_columnar_accept(raw, block.first_line, checks))
        else:
            parts.append(_exact_accept(block, following, header, checks))
    return pyarrow.concat_tables(parts) if parts else _table([])
