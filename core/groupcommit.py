"""Group commit: the requests of one process that arrive while a statement runs go together
in the next one (docs/decisions/0074-collect-group-commit.md).

A durable one-row write costs its round trip, its statement and its commit's flush; on two
cores those, not the row, set how many such writes a second a server takes. ``GroupCommit``
lets the request threads of one web process share them: the first thread to arrive runs
``run`` for itself and every item waiting when it starts (at most ``max_items``); the threads
that arrive meanwhile wait, and when the run ends the first of them runs the next group. Each
thread gets its own item's result, or the run's exception raised in its own thread. Nothing is
answered before the run that holds its item has returned (committed).

With one request thread per process a group is always one item: ``run`` then costs what
running it directly would, plus a few uncontended lock operations (the queue's lock, and the
thread's own, taken when it joins and never waited on).
"""

import threading
from collections.abc import Callable, Sequence

from django.db import connection


class _Waiter[Item, Result]:
    """One thread's item and, once its group has run, its outcome.

    ``done`` is a plain lock taken at creation and released once, when the outcome is set (or
    the thread is told to lead): the waiting thread blocks on acquiring it. One lock and no
    condition variable, so a hand-off costs two C calls, not ``threading.Event``'s Python
    code on both sides.
    """

    __slots__ = ("done", "error", "item", "lead", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Lock()
        self.done.acquire()
        self.lead = False  # set instead of a result: this thread runs the next group
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit[Item, Result]:
    def __init__(
        self, run: Callable[[Sequence[Item]], Sequence[Result]], *, max_items: int
    ) -> None:
        """``run(items)`` stores the items together and returns one result per item, in order."""
        self._run = run
        self._max_items = max_items
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item, Result]] = []
        self._running = False  # a thread is running a group (or about to)

    def submit(self, item: Item) -> Result:
        """Run ``item`` in a group; its result once that group's run has returned."""
        me: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._waiting.append(me)
            lead = not self._running
            self._running = True
        if not lead:
            me.done.acquire()
            if not me.lead:
                return self._outcome(me)
        self._lead(me)
        return self._outcome(me)

    def submit_from_request(self, item: Item, *, alone: Callable[[Item], Result]) -> Result:
        """``submit`` from a thread serving a request, which may hold a database connection.

        Inside a transaction (an atomic block, or autocommit turned off), ``alone(item)`` on
        this thread's own connection: the write must belong to that transaction. Otherwise
        the thread first gives its connection back to the pool (it takes one again if it needs
        one later), so that no thread waiting in a group holds a connection: a group's runner
        waiting for the pool's last connection never waits on a thread that waits on it.
        """
        held = connection.connection is not None
        if connection.in_atomic_block or (held and not connection.autocommit):
            return alone(item)
        if held:
            connection.close()
        return self.submit(item)

    def _lead(self, me: _Waiter[Item, Result]) -> None:
        """Run the waiting group (``me`` first among it), answer its members, then hand the
        next group to the first thread still waiting, or mark the queue idle."""
        with self._lock:
            group = self._waiting[: self._max_items]
            del self._waiting[: self._max_items]
        try:
            results = self._run([waiter.item for waiter in group])
            if len(results) != len(group):
                raise RuntimeError(f"run gave {len(results)} results for {len(group)} items")
            for waiter, result in zip(group, results, strict=True):
                waiter.result = result
        except BaseException as exc:  # every member is answered, whatever the run raised
            for waiter in group:
                waiter.error = exc
        finally:
            with self._lock:
                if self._waiting:
                    following = self._waiting[0]
                    following.lead = True
                    following.done.release()
                else:
                    self._running = False
            for waiter in group:
                if waiter is not me:
                    waiter.done.release()

    @staticmethod
    def _outcome(waiter: _Waiter[Item, Result]) -> Result:
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]  # set when error is None
