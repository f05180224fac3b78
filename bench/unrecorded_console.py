"""The console exactly as `make run` serves it, except that link events are accepted and dropped.

Section 9's "without status recording": the same plugin, the same views, authentication,
parsing and answers, but no device's status is ever written. Only the bench serves this
module (bench/link_status.py); `make run` and production serve iothub_console.wsgi.
"""

from __future__ import annotations

# isort: off
# Django is set up by the console's WSGI module before broker.status imports its models.
from iothub_console.wsgi import application
from broker import status
from broker.status import LinkEvent

# isort: on


def _drop(events: list[LinkEvent]) -> None:
    """The batch was parsed and counted by the view; nothing is recorded."""


status.apply_link_events = _drop

__all__ = ["application"]
