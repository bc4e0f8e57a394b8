"""The bulk loader's own guarantees."""

import pytest
from django.db import connection

from royalties.bulk import COPY_QUEUE_BUFFERS, bounded_queued_writer


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_copy_writer_queue_is_bounded():
    with connection.cursor() as cursor:
        writer = bounded_queued_writer(cursor.cursor)
        # The queue psycopg's worker thread reads from: its size bounds the memory held.
        assert writer._queue.maxsize == COPY_QUEUE_BUFFERS == 16
