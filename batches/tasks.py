from django_tasks import task

from .services import run_batch


@task()
def run_device_batch(batch_id: int) -> None:
    """Runs in the task worker (`manage.py db_worker`), not in the web request."""
    run_batch(batch_id)
