"""Sign-in throttling (django-axes): where a request comes from, and what a locked-out user sees."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

SIGN_IN_LOCKED = (
    "Too many failed sign-ins for this account or from this address. "
    "Sign-in is locked for {minutes} minutes; try again later."
)


def client_address(request: HttpRequest) -> str:
    """The address that failed sign-ins are counted against.

    Behind the TLS proxy every request comes from the proxy, so the address is the
    one the proxy appended to X-Forwarded-For (the last entry: earlier ones are
    whatever the client claimed).
    """
    if settings.IOTHUB_BEHIND_TLS_PROXY:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The sign-in page again, saying why the right password is refused for now (429)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request, initial={"username": username}),
            "next": request.POST.get("next", ""),
            "locked_out_message": SIGN_IN_LOCKED.format(minutes=minutes),
        },
        status=429,
    )
