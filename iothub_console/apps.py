import stat
from pathlib import Path

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def restrict_sqlite_file(sender, connection, **kwargs) -> None:
    """Make an SQLite database file readable and writable by its owner only.

    The file holds every account's data (keys encrypted, the rest not), and SQLite
    creates it with the process's umask, usually world-readable. Changed as soon as
    the first connection opens it, before anything is written; later journal and
    WAL files take the database file's permissions.
    """
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return
    # The WAL and shared-memory files may already exist when the connection's
    # journal_mode=WAL made them before this signal, with the file's old mode.
    for path in (Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")):
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)


class ConsoleConfig(AppConfig):
    name = "iothub_console"

    def ready(self) -> None:
        connection_created.connect(restrict_sqlite_file, dispatch_uid="iothub-console-sqlite-file-mode")
