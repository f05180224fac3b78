"""What a valid signature does not settle: replays of changing requests, and request rates."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .models import APIKey, RequestCounter, SeenSignature
from .params import ApiError

# Actions that only read: polling sends the same signed body again and again, and two
# different reads may share a body and a second, so a read may repeat a signature.
READ_PREFIXES = ("Describe", "Get", "List")
# Reads by name that hand out a one-time secret, and so use it up: each takes a fresh
# signature, or a captured DescribeDevice could be replayed to take the device's key.
ONE_TIME_READS = frozenset({"DescribeDeviceClientKey"})

SIGNATURE_WINDOW_SECONDS = 300

SIGNATURE_ALREADY_USED_CODE = "AuthFailure.SignatureFailure"
SIGNATURE_ALREADY_USED = (
    "This signature was already used: a signature authorises one request that changes data, "
    "and only if no other request carried it. Retry with a freshly signed request."
)
RATE_LIMIT_CODE = "RequestLimitExceeded"
RATE_LIMITED = (
    "Too many {action} requests with this SecretId: at most {limit} per second. Wait a moment and retry."
)


def current_second() -> int:
    return int(time.time())


def is_changing(action: str) -> bool:
    return action in ONE_TIME_READS or not action.startswith(READ_PREFIXES)


def admit(key: APIKey, action: str, signature: str, timestamp: int) -> None:
    """Count the request, record its signature and the key's use, or refuse it.

    One transaction for all three, so an API request costs one commit before its
    action runs. A request over the rate limit is refused before its signature is
    recorded; a refused replay still counts against the rate.
    """
    now = current_second()
    with transaction.atomic():
        within_limit = _count(key, action, now)
        fresh = within_limit and _see(signature, timestamp, now, changing=is_changing(action))
        if within_limit:
            APIKey.objects.filter(pk=key.pk).update(last_used=timezone.now())
    if not within_limit:
        limit = settings.IOTHUB_API_RATE_LIMIT
        raise ApiError(RATE_LIMIT_CODE, RATE_LIMITED.format(action=action, limit=limit))
    if not fresh:
        raise ApiError(SIGNATURE_ALREADY_USED_CODE, SIGNATURE_ALREADY_USED)


def _see(signature: str, timestamp: int, now: int, *, changing: bool) -> bool:
    """Record a request's signature; False for a changing request whose signature was seen before.

    Of two changing requests racing with one signature, exactly one insert succeeds.
    A read's signature is kept too, so that a captured read cannot be replayed as a
    change (the action is not signed), but reads themselves may repeat.
    """
    SeenSignature.objects.filter(timestamp__lt=now - SIGNATURE_WINDOW_SECONDS).delete()
    seen = SeenSignature(signature=signature, timestamp=timestamp)
    if not changing:
        SeenSignature.objects.bulk_create([seen], ignore_conflicts=True)
        return True
    try:
        with transaction.atomic():
            seen.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _count(key: APIKey, action: str, now: int) -> bool:
    """Count the request in this second's window; False once over the limit.

    One row per key and action, restarted when a new second begins: a fixed window in
    the database, so every server process counts against the same limit.
    """
    bump = {"count": Case(When(window=now, then=F("count") + 1), default=Value(1)), "window": now}
    counter = RequestCounter.objects.filter(key=key, action=action)
    if not counter.update(**bump):
        try:
            with transaction.atomic():
                RequestCounter.objects.create(key=key, action=action, window=now, count=1)
        except IntegrityError:
            # Another request made the row first: count on it.
            counter.update(**bump)
    count = counter.values_list("count", flat=True).first() or 0
    return count <= settings.IOTHUB_API_RATE_LIMIT
