"""An RQ worker forks a child for each job while its stalled-batch watch may be inside SQLite.

A fork taken in the middle of the watch's round would hand the child SQLite's mutexes
held by a thread the child does not have; the child then waits forever. A fork waits
for the round to end.
"""

from __future__ import annotations

import os
import threading

from batches import recovery


def test_a_fork_waits_until_the_watchs_round_in_the_database_is_over():
    events: list[str] = []
    in_round = threading.Event()
    end_round = threading.Event()

    def watch_round() -> None:
        with recovery.database_round:
            in_round.set()
            end_round.wait(timeout=30)
            events.append("round over")

    watcher = threading.Thread(target=watch_round)
    watcher.start()
    in_round.wait(timeout=30)

    forking = threading.Thread(target=lambda: events.append(f"forked {fork_and_reap()}"))
    forking.start()
    forking.join(timeout=0.5)
    assert forking.is_alive()  # the fork is waiting
    assert events == []
    end_round.set()
    forking.join(timeout=30)
    watcher.join(timeout=30)

    assert events == ["round over", "forked 0"]
    # The lock is free again in the parent (and was released in the child, which exited 0).
    assert recovery.database_round.acquire(blocking=False)
    recovery.database_round.release()


def fork_and_reap() -> int:
    child = os.fork()
    if child == 0:
        # The child's copy of the lock must be free: the job it runs may look for stalled batches too.
        os._exit(0 if recovery.database_round.acquire(blocking=False) else 1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)
