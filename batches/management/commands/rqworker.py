"""`manage.py rqworker` for the RQ backend, watching for stalled batches as db_worker does.

Only importable with django-rq installed, which the RQ backend's settings require.
"""

from django_rq.management.commands import rqworker

from batches.recovery import watch_for_stalled_batches


class Command(rqworker.Command):
    help = "Run an RQ worker; it also queues again the batches whose worker died."

    def handle(self, *args, **options) -> None:
        watch_for_stalled_batches(once=options["burst"])
        super().handle(*args, **options)
