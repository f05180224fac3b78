"""The WSGI application: the console, and a lean path for the brokers' /broker/v1/ endpoints.

Mosquitto asks `POST /broker/v1/authenticate` on its single thread at every CONNECT, so
that request's time caps how fast devices can connect. The broker endpoints check their
own bearer token and use no session, user, CSRF token, message, static file or page
header, so they skip the console's middleware, which took about half of the request's
CPU time, and are resolved against the broker's own four routes instead of every
console pattern tried first (15% of what was left). Everything else goes through the
full stack; Django's request signals (which close or keep database connections) and its
404 and 500 handling apply on both paths.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest
from django.urls import ResolverMatch, URLResolver, get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iothub_console.settings")

BROKER_PREFIX = "/broker/v1/"
# A urlconf holding only the broker's routes, under the same prefix as in the console's.
BROKER_URLCONF = "broker.root_urls"


class BrokerHandler(WSGIHandler):
    """Django's WSGI handler with no middleware: URL resolution, the view, the response."""

    def load_middleware(self, is_async: bool = False) -> None:
        # The attributes BaseHandler.load_middleware sets, for an empty MIDDLEWARE list.
        self._view_middleware: list[Callable] = []
        self._template_response_middleware: list[Callable] = []
        self._exception_middleware: list[Callable] = []
        # django-stubs leaves out _get_response, the view call every handler wraps.
        get_response = self._get_response  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(get_response)

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        # An unknown /broker/v1/ path raises Resolver404 here, answered by the console's 404.
        resolver: URLResolver = get_resolver(BROKER_URLCONF)
        request.resolver_match = resolver.resolve(request.path_info)
        return request.resolver_match


console_application = get_wsgi_application()  # sets Django up first
broker_application = BrokerHandler()


def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith(BROKER_PREFIX):
        return broker_application(environ, start_response)
    return console_application(environ, start_response)
