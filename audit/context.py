"""Who is acting, from where: set once per request, read by `record()`.

A context variable rather than a parameter: the services are called from the
console, the API, the broker endpoints, tasks and the shell, and threading an
actor through every signature would touch each of them. Code run outside any
request (a task, the shell, a migration) records as source "system".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str  # a username, or an API key's SecretId
    source: str  # one of AuditEntry.Source
    ip: str | None


SYSTEM = Actor(name="system", source="system", ip=None)

_current: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def client_ip(meta: dict) -> str | None:
    """The peer address Django saw (a proxy in front sets REMOTE_ADDR through its WSGI server)."""
    address = meta.get("REMOTE_ADDR") or None
    return address[:45] if address else None
