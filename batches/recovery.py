"""What a worker does besides running tasks: queue again the batches whose worker died.

A killed worker (SIGKILL, a machine gone) leaves its batch running with nobody
running it. Every worker looks for running batches that have given no sign of life
for IOTHUB_BATCH_STALLED_SECONDS, at its start and then twice per interval while it
runs (a burst worker, which exits when the queue is empty, looks once), and resumes
them (`services.resume_stalled_batches`); the task queue then hands each to
whichever worker is free.

An RQ worker forks a child for every job, while this watch runs in a thread of the
same process. A fork taken while the watch is inside SQLite (which may hold
process-wide mutexes then) can leave the child waiting forever for a lock that no
thread of it will release: the likely cause of a resumed batch that never finished,
its job's child stuck just after it started. So a fork waits until the watch's round
is over.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import connection

from . import services

logger = logging.getLogger(__name__)

# Held by the watch for each round in the database, and by a fork while it forks.
database_round = threading.Lock()
# The child's copy of the lock was taken by the thread that forked, its only thread.
os.register_at_fork(
    before=database_round.acquire,
    after_in_parent=database_round.release,
    after_in_child=database_round.release,
)


def watch_for_stalled_batches(*, once: bool) -> None:
    """Look now; unless `once`, keep looking in a daemon thread that ends with the worker."""
    if once:
        services.resume_stalled_batches()
        return
    threading.Thread(target=_watch, name="stalled-batch-watch", daemon=True).start()


def _watch() -> None:
    pause = settings.IOTHUB_BATCH_STALLED_SECONDS / 2
    while True:
        with database_round:
            try:
                services.resume_stalled_batches()
            except Exception:  # a database hiccup must not end the watch; the next round retries
                logger.exception("Looking for stalled batches failed")
            finally:
                connection.close()  # this thread's own connection, not held between rounds
        time.sleep(pause)
