import pytest

from tests.batches.workers import USES_RQ


@pytest.fixture(autouse=True)
def empty_task_queue():
    """With the RQ backend, each test starts on an empty Redis: jobs left by another test name its batches."""
    if USES_RQ:
        import django_rq

        django_rq.get_connection("default").flushdb()
    yield
