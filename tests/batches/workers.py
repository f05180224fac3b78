"""Real task workers for the batch tests: `manage.py db_worker`, or `rqworker` when the RQ backend is set.

The worker is a separate process on the test database, as in production; it is
stopped by its process group (an RQ worker runs each job in a child process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

USES_RQ = settings.TASKS["default"]["BACKEND"].startswith("django_tasks_rq.")
# Short, so that a killed worker's batch counts as stalled within the test.
STALLED_SECONDS = 2
WAIT_SECONDS = 180


def worker_command() -> list[str]:
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    if USES_RQ:
        return [*manage, "rqworker", "--job-class", "django_tasks_rq.Job", "default"]
    return [*manage, "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2"]


def database_url() -> str:
    """The test database, for a process that is not the test run."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    credentials = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    return f"postgres://{credentials}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@contextmanager
def running_worker(log: Path) -> Iterator[subprocess.Popen]:
    """A worker process on the test database, stopped (its whole group) on the way out."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "iothub_console.test_settings",
        "IOTHUB_ENCRYPTION_KEY": settings.IOTHUB_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "IOTHUB_BATCH_STALLED_SECONDS": str(STALLED_SECONDS),
    }
    with log.open("ab") as output:
        worker = subprocess.Popen(
            worker_command(),
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield worker
    finally:
        kill(worker)


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and every process it started: nothing gets to clean up."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {WAIT_SECONDS} s:\n{log.read_text()}")
        time.sleep(0.02)
