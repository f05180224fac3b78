"""The request type of console pages."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """A request to a console page: LoginRequiredMiddleware lets only a signed-in user through.

    For type checking only; views that take it read `request.user` as the account.
    """

    user: User
