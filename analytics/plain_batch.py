"""A collect batch of plain events on PostgreSQL, read from the body straight into the rows
``COPY`` stores (decision 0078).

Most batches are plain: every item an object of known fields, each of the right type and length,
no NUL, a known device, URLs that Django's ``URLValidator`` accepts, metadata of scalar values.
``msgspec`` parses and type-checks such a body in one pass in C, where the JSON parser and then
``event_validate`` spent Python's time on every field of every item; the rows are then written
out directly, without a ``CleanEvent`` each.

Anything else answers None here and takes the usual way (the parser, then ``event_validate``
per item, which words every error and reports bad items by index). This path accepts nothing
the usual one refuses and stores the same rows (``tests/analytics/test_plain_batch.py``).
"""

from datetime import datetime
from typing import Annotated

import msgspec
from django.conf import settings

from analytics.copy_rows import NULL, PlainRows, copy_stamp
from analytics.validation import (
    DEVICES,
    MAX_EVENT_CHARS,
    MAX_USER_ID_CHARS,
    details_at_once,
    url_plain,
)

# orjson, the usual parser, reads integers up to 64 bits; msgspec's bounds stop at int64, so
# larger ones take the usual way.
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _PlainEvent(msgspec.Struct, forbid_unknown_fields=True):
    event: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_CHARS)]
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_USER_ID_CHARS)] | None = (
        msgspec.field(default=None, name="userId")
    )
    device: str | None = None
    url: str | None = None
    referrer: str | None = None
    ip_address: str | None = msgspec.field(default=None, name="ipAddress")
    timestamp: str | None = None
    metadata: dict[str, str | _Int64 | float | bool | None] | None = None


_BATCH = msgspec.json.Decoder(list[_PlainEvent])


def plain_rows(body: bytes, *, client_ip: str, now: datetime) -> PlainRows | None:
    """The rows of a batch of 2 to ``ANALYTICS_MAX_BATCH`` plain events, or None.

    ``now`` is the batch's receipt time (the timestamp of events sent without one), and
    ``client_ip`` the address of events sent without one, as for ``event_validate``.
    """
    if b"\\u0000" in body:  # a NUL is spelt so, or absent: raw control characters are not JSON
        return None
    try:
        items = _BATCH.decode(body)
    except msgspec.DecodeError:  # msgspec.ValidationError is one too
        return None
    if not 2 <= len(items) <= settings.ANALYTICS_MAX_BATCH:
        return None
    stamps: dict[datetime, str] = {}  # a batch's events mostly share one timestamp
    rows: list[str] = []
    nulls = 0
    for item in items:
        device, url, referrer, user_id = item.device, item.url, item.referrer, item.user_id
        if (
            (device is not None and device not in DEVICES)
            or (url is not None and not url_plain(url))
            or (referrer is not None and not url_plain(referrer))
        ):
            return None
        details = details_at_once(
            item.timestamp, item.ip_address, item.metadata, client_ip=client_ip, now=now
        )
        if details is None:
            return None
        timestamp, ip, metadata, browser, os = details
        stamp = stamps.get(timestamp) or stamps.setdefault(timestamp, copy_stamp(timestamp))
        if user_id is None:
            nulls += 1
        if metadata is None:
            nulls += 1
        rows.append(
            f"{item.event}\t{url or ''}\t{referrer or ''}\t{device or ''}\t{ip}\t"
            f"{NULL if user_id is None else user_id}\t"
            f"{f'i:{ip}' if user_id is None else f'u:{user_id}'}\t{browser}\t{os}\t"
            f"{NULL if metadata is None else metadata}\t{stamp}"
        )
    return PlainRows.checked(rows, nulls=nulls)
