"""tccli's Host header, accepted on the API door only."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# tccli reaches plain HTTP only through `--endpoint http://host:port`, and then sends
# and signs `Host: http://host:port`.
SCHEME_HOST = re.compile(r"https?://(?P<host>[^/\s]+)/?", re.IGNORECASE)

# The Host header exactly as the client sent (and signed) it.
SIGNED_HOST_KEY = "iothub.signed_host"


def is_api_request(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path_info == "/" and "HTTP_X_TC_ACTION" in request.META


class SignedHostMiddleware:
    """On `POST /` with X-TC-Action, a Host with a scheme is reduced to host:port.

    Django's host validation then judges the host:port as for any request, while the
    signature is checked over the header as sent. Every other request's Host is left
    alone, so a scheme there is still refused as a disallowed host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            sent = request.META.get("HTTP_HOST", "")
            request.META[SIGNED_HOST_KEY] = sent
            match = SCHEME_HOST.fullmatch(sent)
            if match is not None:
                request.META["HTTP_HOST"] = match["host"]
        return self.get_response(request)
