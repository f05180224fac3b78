"""TC3-HMAC-SHA256, Tencent Cloud API 3.0's request signature, as pure functions.

The server recomputes the signature the client made over the canonical request
(method, path, query, signed headers, SHA-256 of the body) and compares.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

ALGORITHM = "TC3-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256\s+Credential=(?P<secret_id>[^/\s,]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<service>[a-z0-9]+)/tc3_request,\s*SignedHeaders=(?P<signed_headers>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


class MalformedAuthorization(ValueError):
    pass


@dataclass(frozen=True)
class Authorization:
    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> Authorization:
    match = _AUTHORIZATION.match(header.strip())
    if match is None:
        raise MalformedAuthorization(
            "The Authorization header is not TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request, "
            "SignedHeaders=<headers>, Signature=<hex>."
        )
    return Authorization(
        secret_id=match["secret_id"],
        date=match["date"],
        service=match["service"],
        signed_headers=tuple(match["signed_headers"].split(";")),
        signature=match["signature"],
    )


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    canonical_headers = "".join(
        f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers
    )
    return "\n".join([method, path, query, canonical_headers, ";".join(signed_headers), payload_hash])


def signature(*, secret_key: str, date: str, service: str, timestamp: str, canonical: str) -> str:
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    key = _hmac(key, service)
    key = _hmac(key, "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def payload_hash(body: bytes, unsigned: bool = False) -> str:
    return hashlib.sha256(UNSIGNED_PAYLOAD.encode() if unsigned else body).hexdigest()
