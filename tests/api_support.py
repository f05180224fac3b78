"""Shared steps for the Tencent Cloud API tests: SDK clients, raw calls, a TC3 signer of our own.

Not a behaviour of its own (it holds no tests); it is named `test_api_*` only to sit
beside the API test files. The signer is written from the algorithm in
`reference/tencent-iothub.md` and Tencent's API 3.0 documentation, independently of
`api/tc3.py`, so that the server is checked against the algorithm and not against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from django.contrib.auth.models import AbstractBaseUser

from api.models import APIKey
from certificates import services as ca_services
from certificates.models import CACertificate

from . import pki
from .tencent_sdk import TencentCloudSDKException, models, sdk_client

VERSION = "2021-04-08"
SERVICE = "iotcloud"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def client_for(live_server, owner: AbstractBaseUser):
    """The official SDK's iotcloud client, signing with a new API key of `owner`."""
    key = APIKey.objects.create(owner=owner)
    return sdk_client(live_server.url, key.secret_id, key.secret_key)


def build(model_class: type, **fields: Any):
    """An SDK request (or nested) model with the given attributes set."""
    model = model_class()
    for name, value in fields.items():
        setattr(model, name, value)
    return model


def call(client, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The `Response` object of a generic SDK call (raises TencentCloudSDKException on errors)."""
    return json.loads(client.call(action, params))["Response"]


def refusal(operation: Callable[[], Any]) -> TencentCloudSDKException:
    """The SDK exception that `operation` raises; the test fails if it succeeds."""
    with pytest.raises(TencentCloudSDKException) as caught:
        operation()
    error = caught.value
    assert uuid.UUID(error.requestId)
    return error


def assert_refused(operation: Callable[[], Any], code: str, message: str) -> None:
    error = refusal(operation)
    assert (error.code, error.message) == (code, message)


def in_a_new_second() -> None:
    """Wait for the clock's next second before sending a request with the same body again.

    The SDK's signature covers the body and the second, not the action: the same body
    sent twice in one second carries one signature, which a changing request may not reuse.
    """
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


def authentication_code(client) -> str:
    """The code for VerifyCertText, read the way an API caller reads it."""
    response = call(client, "DescribeAuthenticationCode", {})
    code = response["AuthenticationCode"]
    assert len(code) == 64
    return code


def create_private_ca(client, name: str, ca: pki.Issued) -> None:
    """CreatePrivateCA for an in-memory CA, with a proof for the account's current code."""
    verification = pki.make_verification(authentication_code(client), ca)
    client.CreatePrivateCA(
        build(
            models.CreatePrivateCARequest,
            CertName=name,
            CertText=ca.pem.decode(),
            VerifyCertText=verification.pem.decode(),
        )
    )


def register_ca(owner: AbstractBaseUser, ca: pki.Issued, name: str) -> CACertificate:
    """Register `ca` straight through the service (set-up, not the behaviour under test)."""
    code = ca_services.current_authentication_code(owner=owner).code
    verification = pki.make_verification(code, ca)
    return ca_services.register_ca_certificate(
        owner=owner, name=name, certificate_data=ca.pem, verification_data=verification.pem
    )


def product_properties(**fields: Any):
    return build(models.ProductProperties, **fields)


def create_product(client, name: str, **properties: Any):
    """CreateProduct; `properties` are ProductProperties fields (none: a Platform CA product)."""
    request = build(models.CreateProductRequest, ProductName=name)
    if properties:
        request.ProductProperties = product_properties(**properties)
    return client.CreateProduct(request)


# TC3-HMAC-SHA256 by hand --------------------------------------------------------


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    body: bytes,
    timestamp: int,
    content_type: str = JSON_CONTENT_TYPE,
    service: str = SERVICE,
) -> str:
    """The Authorization header Tencent Cloud API 3.0 expects for `POST /` with `body`."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed_headers = "content-type;host"
    canonical_headers = f"content-type:{content_type.lower()}\nhost:{host.lower()}\n"
    canonical_request = "\n".join(
        ["POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    signing_key = _hmac_sha256(
        _hmac_sha256(_hmac_sha256(f"TC3{secret_key}".encode(), date), service), "tc3_request"
    )
    signature = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


def signed_headers(
    live_server,
    key: APIKey,
    action: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    version: str = VERSION,
    secret_key: str | None = None,
) -> dict[str, str]:
    """Every header of a signed API request, as the SDK sends them."""
    host = urlparse(live_server.url).netloc
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": JSON_CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": "ap-guangzhou",
        "Authorization": tc3_authorization(
            secret_id=key.secret_id,
            secret_key=key.secret_key if secret_key is None else secret_key,
            host=host,
            body=body,
            timestamp=timestamp,
        ),
    }


def post(live_server, headers: dict[str, str], body: bytes) -> requests.Response:
    return requests.post(f"{live_server.url}/", data=body, headers=headers, timeout=30, allow_redirects=False)


def signed_post(live_server, key: APIKey, action: str, body: bytes, **options: Any) -> requests.Response:
    return post(live_server, signed_headers(live_server, key, action, body, **options), body)


def api_error(response: requests.Response) -> tuple[str, str]:
    """(Code, Message) of an API error answer, after checking its envelope."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()["Response"]
    assert set(payload) == {"Error", "RequestId"}
    assert uuid.UUID(payload["RequestId"])
    return payload["Error"]["Code"], payload["Error"]["Message"]


# Reading console pages ---------------------------------------------------------------
# By what a reader sees (link text, table cells, visible text) rather than exact markup,
# which other work restyles.


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._link: tuple[str, list[str]] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._link = (dict(attrs).get("href") or "", [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], _collapse("".join(self._link[1]))))
            self._link = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(_collapse("".join(self._cell)))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._link is not None:
            self._link[1].append(data)
        if self._cell is not None:
            self._cell.append(data)


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def read_page(html: str) -> _PageReader:
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return reader


def links(html: str) -> list[tuple[str, str]]:
    """Every link on the page as (href, visible text)."""
    return read_page(html).links


def visible_text(html: str) -> str:
    return _collapse(" ".join(read_page(html).text))


def table_row(html: str, first_cell: str) -> list[str] | None:
    """The cells of the table row whose first cell reads `first_cell`, or None."""
    for row in read_page(html).rows:
        if row and row[0] == first_cell:
            return row
    return None
