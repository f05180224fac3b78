"""The broker endpoints as Django views: the door of the URLconf, the test client and any
server that runs the console's full WSGI stack. `make run` serves /broker/v1/ through the
lean door in iothub_console/wsgi.py instead; both answer through broker/endpoints.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import endpoints


@cache
def view_of(endpoint: str) -> Callable[[HttpRequest], JsonResponse]:
    """The Django view of one of broker/endpoints.py's ENDPOINTS."""

    @csrf_exempt
    @login_not_required
    def view(request: HttpRequest) -> JsonResponse:
        answer = endpoints.answer(
            endpoint,
            endpoints.BrokerCall(
                method=request.method or "",
                authorization=request.META.get("HTTP_AUTHORIZATION", ""),
                read_query=lambda: request.GET,
                read_body=lambda: request.body,
            ),
        )
        response = JsonResponse(answer.content, status=answer.status)
        if answer.allow:
            response["Allow"] = answer.allow
        return response

    view.__name__ = view.__qualname__ = endpoint
    return view
