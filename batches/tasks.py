from django_tasks import task

from .services import run_batch


@task()
def run_device_batch(batch_id: int, lease: str = "") -> None:
    """Runs in the task worker (`manage.py db_worker` or `rqworker`), not in the web request.

    `lease` is empty for tasks queued before batches had leases.
    """
    run_batch(batch_id, lease)
