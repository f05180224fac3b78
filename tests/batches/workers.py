"""Real task workers for the batch tests: `manage.py db_worker`, or `rqworker` when the RQ backend is set.

The worker is a separate process on the test database, as in production.
"""

from __future__ import annotations

import contextlib
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
from django.core.management import call_command
from django.db import connection
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

USES_RQ = settings.TASKS["default"]["BACKEND"].startswith("django_tasks_rq.")
# Short, so that a killed worker's batch counts as stalled within the test.
STALLED_SECONDS = 2
WAIT_SECONDS = 180


def worker_command() -> list[str]:
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    if USES_RQ:
        return [*manage, "rqworker", "--job-class", "django_tasks_rq.Job", "default"]
    return [*manage, "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2"]


def tasks_in_backend() -> int:
    """How many tasks the backend holds: rows of the database backend, jobs of RQ's queue."""
    if USES_RQ:
        import django_rq

        queue = django_rq.get_queue("default")
        return queue.count + queue.started_job_registry.count + queue.finished_job_registry.count
    return DBTaskResult.objects.count()


def take_queued_task(task_id: str) -> None:
    """Take the task off the queue as a worker does when it starts it (and then dies with it)."""
    if USES_RQ:
        import django_rq

        django_rq.get_queue("default").remove(task_id)
    else:
        DBTaskResult.objects.filter(id=task_id).update(status=TaskResultStatus.RUNNING)


def run_worker_until_idle() -> None:
    """Run the queued tasks in this process, then return (the worker's burst mode)."""
    if USES_RQ:
        # SimpleWorker runs jobs in this process, on this test's database connection.
        call_command(
            "rqworker", "default", burst=True, worker_class="rq.SimpleWorker", job_class="django_tasks_rq.Job"
        )
    else:
        call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)


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
    """A worker process on the test database, killed with everything it started on the way out."""
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
        )
    try:
        yield worker
    finally:
        kill(worker)


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and every process it started: nothing gets to clean up.

    By PID, descendants first: an RQ worker runs each job in a child that starts a
    session of its own, so killing the worker's process group would leave it running.
    """
    if worker.poll() is None:
        for pid in [*descendants(worker.pid), worker.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    worker.wait()


def descendants(pid: int) -> list[int]:
    """The processes below `pid`, from Linux's /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (command) state ppid ...": the command may hold spaces, so split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, waiting = [], list(children.get(pid, []))
    while waiting:
        child = waiting.pop()
        found.append(child)
        waiting.extend(children.get(child, []))
    return found


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {WAIT_SECONDS} s:\n{log.read_text()}")
        time.sleep(0.02)
