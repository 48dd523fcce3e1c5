"""Test code run in several threads at once, each on its own database connection: races on
real PostgreSQL (a code used twice, two runs numbered at once, parallel guesses)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def at_once(*jobs: Callable[[], object], timeout_s: float = 60.0) -> list[object]:
    """Call each job in its own thread, all released together by a barrier; each thread closes
    its database connections when done. Returns, in the jobs' order, what each returned or the
    exception it raised. Fails the test when a thread still runs after ``timeout_s`` (a lock
    never released)."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[object] = [None] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(10)
            outcomes[index] = job()
        except BaseException as exc:  # noqa: BLE001 - handed to the test as the job's outcome
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s)
    assert not any(t.is_alive() for t in threads), "a thread is stuck: a lock never released"
    return outcomes


def failures(outcomes: list[object]) -> list[BaseException]:
    """The exceptions among ``at_once``'s outcomes."""
    return [o for o in outcomes if isinstance(o, BaseException)]
