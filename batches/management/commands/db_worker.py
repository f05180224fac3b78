from django_tasks_db.management.commands import db_worker

from batches.recovery import watch_for_stalled_batches


class Command(db_worker.Command):
    help = "Run the database task worker; it also queues again the batches whose worker died."

    def handle(self, *args, **options) -> None:
        watch_for_stalled_batches(once=options["batch"])
        super().handle(*args, **options)
