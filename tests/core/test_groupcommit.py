"""core.groupcommit: the items that arrive while a run is going go together in the next run;
each thread gets its own item's result, or the run's exception."""

import threading
import time

import pytest
from django.db import connection, transaction

from core.groupcommit import GroupCommit

WAIT_SECONDS = 10


class GatedRun:
    """A run that records its groups, answers each item doubled, and holds its first call
    until ``release`` (so that others queue behind it)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.started.set()
            assert self.gate.wait(WAIT_SECONDS)
        if self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        return [item * 2 for item in items]


def _submit_in_thread(commit: GroupCommit, item: int, outcomes: dict) -> threading.Thread:
    def submit() -> None:
        try:
            outcomes[item] = commit.submit(item)
        except ValueError as exc:
            outcomes[item] = str(exc)

    thread = threading.Thread(target=submit)
    thread.start()
    return thread


def _queued(commit: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(commit._waiting) < count:
        assert time.monotonic() < deadline, "the submits did not queue"
        time.sleep(0.001)


def _queue_behind_a_held_run(commit: GroupCommit, run: GatedRun, items: list[int], outcomes):
    threads = [_submit_in_thread(commit, 0, outcomes)]
    assert run.started.wait(WAIT_SECONDS)
    for count, item in enumerate(items, start=1):
        threads.append(_submit_in_thread(commit, item, outcomes))
        _queued(commit, count)  # one at a time: the queue's order is the submits' order
    run.gate.set()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)


def test_alone_an_item_is_a_group_of_one():
    run = GatedRun()
    run.gate.set()
    commit = GroupCommit(run, max_items=8)
    assert [commit.submit(3), commit.submit(4)] == [6, 8]
    assert run.groups == [[3], [4]]
    assert commit._running is False


def test_items_arriving_during_a_run_go_together_in_the_next():
    run = GatedRun()
    commit = GroupCommit(run, max_items=8)
    outcomes: dict = {}
    _queue_behind_a_held_run(commit, run, [1, 2, 3, 4, 5], outcomes)
    assert run.groups == [[0], [1, 2, 3, 4, 5]]
    assert outcomes == {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10}
    assert commit._running is False
    assert commit._waiting == []


def test_a_group_holds_at_most_max_items():
    run = GatedRun()
    commit = GroupCommit(run, max_items=2)
    outcomes: dict = {}
    _queue_behind_a_held_run(commit, run, [1, 2, 3, 4, 5], outcomes)
    assert run.groups == [[0], [1, 2], [3, 4], [5]]
    assert outcomes == {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10}


def test_a_failed_run_raises_in_each_of_its_threads_and_the_next_group_still_runs():
    run = GatedRun(fail_on=3)
    commit = GroupCommit(run, max_items=2)
    outcomes: dict = {}
    _queue_behind_a_held_run(commit, run, [1, 2, 3, 4, 5], outcomes)
    assert run.groups == [[0], [1, 2], [3, 4], [5]]
    assert outcomes == {0: 0, 1: 2, 2: 4, 3: "refused 3", 4: "refused 3", 5: 10}
    assert commit._running is False


def test_a_run_that_answers_the_wrong_number_of_items_fails_every_item():
    commit: GroupCommit[int, int] = GroupCommit(lambda items: [], max_items=4)
    with pytest.raises(RuntimeError, match="run gave 0 results for 1 items"):
        commit.submit(1)
    assert commit._running is False


@pytest.mark.django_db
def test_inside_a_transaction_a_request_runs_alone():
    commit: GroupCommit[int, int] = GroupCommit(lambda items: pytest.fail("grouped"), max_items=4)
    with transaction.atomic():
        assert commit.submit_from_request(5, alone=lambda item: item * 3) == 15


@pytest.mark.django_db(transaction=True)
def test_with_autocommit_off_a_request_runs_alone():
    commit: GroupCommit[int, int] = GroupCommit(lambda items: pytest.fail("grouped"), max_items=4)
    transaction.set_autocommit(False)
    try:
        assert commit.submit_from_request(5, alone=lambda item: item * 3) == 15
        assert connection.connection is not None  # the transaction's connection was kept
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)


@pytest.mark.django_db(transaction=True)
def test_a_request_gives_its_connection_back_before_it_joins_a_group():
    """A thread waiting in a group holds no connection: the request's open connection goes
    back (to the pool) first, and the group's runner takes one when it needs it."""
    seen: list[bool] = []

    def run(items):
        seen.append(connection.connection is None)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(run, max_items=4)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.connection is not None
    assert commit.submit_from_request(7, alone=lambda item: pytest.fail("alone")) == 7
    assert seen == [True]
