"""8. The Tencent Cloud API's reads at scale, against a signed no-op action.

Every request is signed afresh (TC3-HMAC-SHA256, as the SDK signs) and sent through
Django's test Client; the time taken is the server's side only (the WSGI handler:
middleware, signature check, rate count, signature store, the action, JSON), as CPU
time of the thread that serves it, which other processes on a shared machine do not
inflate (the database's own work is in-process: SQLite). The
no-op action does nothing after that common work, so each ratio is what the action
itself costs on top of being a signed API request. Devices are inserted as for the
Devices tab (bench/device_list.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.http import HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from api import tc3
from api.actions import ACTIONS, Action
from api.models import APIKey
from api.views import API_VERSION, SERVICE
from products.models import Product

from .environment import CLIENT_HOST
from .report import BenchError, Sample

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# A read (Describe…), so that repeating its body is not refused as a replay.
NO_OP = "DescribeNothingForTheBench"
PAGE_SIZE = 100
WARM_UP_REQUESTS = 5
# The measurement sends far more than the reference's 20 requests/s per action.
UNLIMITED = 1_000_000_000

CALLS = ("DescribeDevices (Limit 100)", "DescribeProduct", "DescribeDevices (deep: last page)")
TARGETED = CALLS[:2]


@dataclass(frozen=True)
class CallResult:
    server_time: Sample
    queries: int

    @property
    def requests_per_second(self) -> float:
        return 1 / self.server_time.median


@dataclass(frozen=True)
class ApiResult:
    no_op: CallResult
    calls: dict[str, CallResult]

    def ratio(self, label: str) -> float:
        return self.calls[label].server_time.median / self.no_op.server_time.median


class _CpuTimedHandler:
    """Wraps the test Client's WSGI handler to take the CPU time each request costs the server."""

    def __init__(self, handler: Callable[[dict], HttpResponse]) -> None:
        self.handler = handler
        self.last = 0.0

    def __call__(self, environ: dict) -> HttpResponse:
        start = time.thread_time()
        try:
            return self.handler(environ)
        finally:
            self.last = time.thread_time() - start


class _Signer:
    """Signs each request as Tencent's SDK does: Host and Content-Type, the body, this second."""

    def __init__(self, key: APIKey) -> None:
        self.key = key

    def headers(self, action: str, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        signed = ("content-type", "host")
        canonical = tc3.canonical_request(
            method="POST",
            path="/",
            query="",
            headers={"content-type": JSON_CONTENT_TYPE, "host": CLIENT_HOST},
            signed_headers=signed,
            payload_hash=hashlib.sha256(body).hexdigest(),
        )
        signature = tc3.signature(
            secret_key=self.key.secret_key,
            date=date,
            service=SERVICE,
            timestamp=str(timestamp),
            canonical=canonical,
        )
        return {
            "HTTP_HOST": CLIENT_HOST,
            "HTTP_X_TC_ACTION": action,
            "HTTP_X_TC_VERSION": API_VERSION,
            "HTTP_X_TC_TIMESTAMP": str(timestamp),
            "HTTP_AUTHORIZATION": (
                f"TC3-HMAC-SHA256 Credential={self.key.secret_id}/{date}/{SERVICE}/tc3_request, "
                f"SignedHeaders={';'.join(signed)}, Signature={signature}"
            ),
        }


def measure(owner: AbstractBaseUser, products: dict[int, Product], requests: int) -> dict[int, ApiResult]:
    """Each call's server time and queries, for each product (by its number of devices)."""
    key = APIKey.objects.create(owner=owner)
    signer = _Signer(key)
    client = Client()
    timed = _CpuTimedHandler(client.handler)
    client.handler = timed
    ACTIONS[NO_OP] = Action(handler=lambda owner, params: {}, params={})
    try:
        with override_settings(IOTHUB_API_RATE_LIMIT=UNLIMITED):
            return {
                count: _measure_product(client, timed, signer, product, count, requests)
                for count, product in products.items()
            }
    finally:
        del ACTIONS[NO_OP]
        client.handler = timed.handler


def _calls(product: Product, count: int) -> dict[str, tuple[str, dict, int]]:
    """Each call by label: its action, its parameters, and how many devices it must list."""
    last_page = max(0, count - PAGE_SIZE)
    return {
        CALLS[0]: (
            "DescribeDevices",
            {"ProductId": product.product_id, "Offset": 0, "Limit": PAGE_SIZE},
            PAGE_SIZE,
        ),
        CALLS[1]: ("DescribeProduct", {"ProductId": product.product_id}, 0),
        CALLS[2]: (
            "DescribeDevices",
            {"ProductId": product.product_id, "Offset": last_page, "Limit": PAGE_SIZE},
            count - last_page,
        ),
    }


def _measure_product(
    client: Client,
    timed: _CpuTimedHandler,
    signer: _Signer,
    product: Product,
    count: int,
    requests: int,
) -> ApiResult:
    calls = {"no-op": (NO_OP, {}, 0), **_calls(product, count)}
    for action, params, listed in calls.values():
        for _ in range(WARM_UP_REQUESTS):
            _post(client, signer, action, params, listed, count)
    queries = {label: _query_count(client, signer, *call, count) for label, call in calls.items()}
    times: dict[str, list[float]] = {label: [] for label in calls}
    # Round-robin, so that drift in the machine's speed hits every call alike.
    for _ in range(requests):
        for label, (action, params, listed) in calls.items():
            _post(client, signer, action, params, listed, count)
            times[label].append(timed.last)
    results = {label: CallResult(Sample(tuple(times[label])), queries[label]) for label in calls}
    no_op = results.pop("no-op")
    return ApiResult(no_op=no_op, calls=results)


def _post(client: Client, signer: _Signer, action: str, params: dict, listed: int, count: int) -> dict:
    body = json.dumps(params).encode()
    response = client.post("/", data=body, content_type=JSON_CONTENT_TYPE, **signer.headers(action, body))
    payload = response.json()["Response"]
    if response.status_code != 200 or "Error" in payload:
        raise BenchError(f"{action} answered {response.status_code} {payload.get('Error')}")
    if action == "DescribeDevices" and (len(payload["Devices"]) != listed or payload["TotalCount"] != count):
        raise BenchError(
            f"DescribeDevices listed {len(payload['Devices'])} of {payload['TotalCount']}, not {listed} of {count}"
        )
    return payload


def _query_count(client: Client, signer: _Signer, action: str, params: dict, listed: int, count: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        _post(client, signer, action, params, listed, count)
    return len(captured.captured_queries)
