from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

# Headers by which browsers mark a request made ahead of the user: Sec-Purpose
# (the standard: "prefetch", "prefetch;prerender"), Purpose (older Chrome and
# Safari), X-Moz (older Firefox) and X-Purpose ("preview", Safari's top sites).
SPECULATIVE_REQUEST_HEADERS = ("Sec-Purpose", "Purpose", "X-Moz", "X-Purpose")
SPECULATIVE_PURPOSES = ("prefetch", "prerender", "preview")


def redirect_to_next(request: HttpRequest, fallback: str, *args) -> HttpResponseRedirect:
    """Back to the page named in the form's `next` field if it is on this site, else `fallback`."""
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect(fallback, *args)


def is_speculative(request: HttpRequest) -> bool:
    """The browser fetched this ahead of the user (prefetch, prerender, preview)."""
    return any(
        purpose in request.headers.get(header, "").lower()
        for header in SPECULATIVE_REQUEST_HEADERS
        for purpose in SPECULATIVE_PURPOSES
    )


def is_consuming_get(request: HttpRequest) -> bool:
    """May this request use up a one-time secret (a private key, results with keys)?

    Only a GET the user made: a HEAD (link checkers, download managers asking for
    the size) or a prefetch must leave the secret for the real download.
    """
    return request.method == "GET" and not is_speculative(request)


def secret_withheld(request: HttpRequest) -> HttpResponse:
    """The answer to a request that may not use up a one-time secret: no secret in it.

    A prefetch is answered 503 so that the browser drops it and asks again when the
    user follows the link (a 2xx prefetch would be shown in place of the download);
    a HEAD gets an empty 200.
    """
    response = HttpResponse(status=503 if is_speculative(request) else 200)
    response["Cache-Control"] = "no-store"
    return response
