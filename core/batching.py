"""The threshold-or-timeout batcher: process pending rows when enough wait, or every so often.

A domain declares one ``Batcher`` naming three things by dotted path: a callable returning the
queryset of its pending rows, the setting that holds the threshold, and the processor (a
callable taking no arguments that drains the pending rows and returns how many it processed).

- Threshold: the write path calls ``batcher.notify()`` inside (or after) its transaction. Once
  the transaction commits, the batcher counts pending rows (bounded by the threshold) and, when
  the threshold is reached, enqueues one django-q2 task. A cache lock taken with ``add()`` (atomic
  on every cache backend) keeps at most one trigger in flight across all web processes; the task
  releases it when done and checks once more, so rows that arrived meanwhile are not stranded.
  The lock expires after ``lock_seconds`` so a worker that died cannot block triggers forever.
  A processor that runs long can keep its lock short: it calls ``lock_refresh()`` as it goes,
  and a processor that died then blocks triggers for ``lock_seconds`` at most.
- Timeout: a django-q2 schedule declared by the domain calls ``batcher.run()`` every N seconds
  and drains whatever is pending, however little.
- By hand: a management command calls ``batcher.run()`` too.

Correctness never depends on the batcher: processors must claim rows safely on their own
(two runs at once are allowed); the lock only avoids piling up redundant tasks.

Cost on the write path: a process that has seen the in-flight lock remembers it for
``memo_seconds`` and skips the check meanwhile (no cache read, no count): a task is in flight,
and it re-checks when done. So that a row committed by a process whose memory of the lock
outlived the lock is not stranded, the task checks once more ``memo_seconds`` after releasing
the lock, when every process's memory of it has run out (docs/decisions/0009-batcher-memo.md).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

TRIGGER_TASK = "core.batching.batcher_run_task"

# ref -> time.monotonic() until which this process takes the in-flight lock as held.
_lock_seen_until: dict[str, float] = {}


def async_task(func: str, *args: Any, **kwargs: Any) -> str:
    """Enqueue on django-q2 (the one boundary with the queue; tests may replace it)."""
    from django_q.tasks import async_task as q_async_task

    task_id: str = q_async_task(func, *args, **kwargs)
    return task_id


@dataclass(frozen=True)
class Batcher:
    ref: str  # dotted path of this object, so a worker process can find it again
    pending: str  # dotted path of a callable returning the QuerySet of pending rows
    threshold_setting: str  # name of the setting holding the threshold (rows)
    processor: str  # dotted path of a callable that drains pending rows, returns a count
    lock_seconds: int = 600
    memo_seconds: float = 1.0  # how long a process trusts that it saw the lock held

    @property
    def lock_key(self) -> str:
        return f"batcher:{self.ref}:in-flight"

    @property
    def threshold(self) -> int:
        return int(getattr(settings, self.threshold_setting))

    def pending_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = import_string(self.pending)()
        return queryset

    def pending_reached(self) -> bool:
        """Whether at least ``threshold`` rows are pending (counts no further than that)."""
        threshold = max(1, self.threshold)
        return self.pending_queryset().values("pk")[:threshold].count() >= threshold

    def notify(self) -> None:
        """Call from the write path: after commit, trigger processing if the threshold is met.

        A thread holding no connection has no transaction open (its write was committed on
        a connection already given back to the pool, as ``core.groupcommit`` does): the
        check runs now, without borrowing a connection only to learn that it is in
        autocommit."""
        if connection.connection is None and not connection.in_atomic_block:
            self.check()
            return
        transaction.on_commit(self.check)

    def check(self) -> bool:
        """Enqueue one processing task if the threshold is reached and none is in flight."""
        if _lock_seen_until.get(self.ref, 0.0) > time.monotonic():
            return False
        try:
            if cache.get(self.lock_key) is not None:
                self._remember_lock()
                return False
            if not self.pending_reached():
                return False
            if not cache.add(self.lock_key, "1", timeout=self.lock_seconds):
                self._remember_lock()
                return False
            try:
                async_task(TRIGGER_TASK, self.ref, task_name=f"batcher {self.ref}")
            except Exception:
                cache.delete(self.lock_key)
                raise
            self._remember_lock()
            return True
        except Exception:
            # The rows are committed and the timeout schedule will process them: a failed
            # trigger must never fail the write that caused it.
            logger.exception("batcher %s: could not trigger processing", self.ref)
            return False

    def _remember_lock(self) -> None:
        if self.memo_seconds > 0:
            _lock_seen_until[self.ref] = time.monotonic() + self.memo_seconds

    def lock_refresh(self) -> bool:
        """Extend the in-flight lock to ``lock_seconds`` from now, if it is still held; a free
        lock is never taken here. A processor calls it as it goes (at each pass), so that the
        lock outlives one step of a live processor, not the whole run of a dead one."""
        try:
            return bool(cache.touch(self.lock_key, timeout=self.lock_seconds))
        except Exception:
            # The lock only saves redundant tasks (correctness never rests on it): a cache
            # that failed to answer must not stop the processing.
            logger.exception("batcher %s: could not refresh the in-flight lock", self.ref)
            return False

    def forget_lock(self) -> None:
        """Drop this process's memory of the in-flight lock (the releasing process calls it)."""
        _lock_seen_until.pop(self.ref, None)

    def run(self) -> int:
        """Drain the pending rows now (the schedule and the manual command call this)."""
        processor: Callable[[], int] = import_string(self.processor)
        return processor()


def batcher_get(ref: str) -> Batcher:
    batcher = import_string(ref)
    if not isinstance(batcher, Batcher):
        raise TypeError(f"{ref} is not a Batcher")
    return batcher


def batcher_run_task(ref: str) -> int:
    """The threshold trigger's task: drain, release the in-flight lock, re-check.

    The second re-check, ``memo_seconds`` later, covers rows committed by processes that still
    took the lock as held (see the module docstring).
    """
    batcher = batcher_get(ref)
    try:
        processed = batcher.run()
    finally:
        cache.delete(batcher.lock_key)
        batcher.forget_lock()
    if not batcher.check() and batcher.memo_seconds > 0:
        time.sleep(batcher.memo_seconds)
        batcher.forget_lock()
        batcher.check()
    return processed
