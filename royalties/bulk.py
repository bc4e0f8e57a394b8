"""psycopg's ``COPY`` writer with a bounded queue, for loading many rows with flat memory."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import Cursor
    from psycopg.copy import QueuedLibpqWriter

# psycopg's queued writer holds up to 1024 buffers: when the server is the slower side, that
# is memory growing with the rows. A few buffers keep the overlap and bound the memory.
COPY_QUEUE_BUFFERS = 16


def bounded_queued_writer(cursor: "Cursor[Any]") -> "QueuedLibpqWriter":
    """psycopg's ``QueuedLibpqWriter`` (a thread sends while this one formats) with a short
    queue (of psycopg's own queue class, whose ``get`` stays interruptible)."""
    from psycopg.copy import QueuedLibpqWriter

    writer = QueuedLibpqWriter(cursor)
    writer._queue = type(writer._queue)(maxsize=COPY_QUEUE_BUFFERS)
    return writer
