from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import Actor, acting_as, client_ip
from .models import AuditEntry


class AuditActorMiddleware:
    """Console requests act as the signed-in user; the API view sets its own actor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        actor = Actor(name=user.get_username(), source=AuditEntry.Source.CONSOLE, ip=client_ip(request.META))
        with acting_as(actor):
            return self.get_response(request)
