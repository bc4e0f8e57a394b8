"""Real threads for the concurrency tests: each runs with its own database connection, all
released at once by a barrier."""

import threading
from collections.abc import Callable

BARRIER_TIMEOUT_SECONDS = 30
JOIN_TIMEOUT_SECONDS = 120


def run_in_threads[T](count: int, target: Callable[[int], T]) -> list[T]:
    """``target(index)`` in ``count`` threads started together; their results, in order.
    Fails the test if any raised or did not finish; each thread closes its connection."""
    from django.db import connection

    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT_SECONDS)
    results: list = [None] * count
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert errors == [], errors
    return results
