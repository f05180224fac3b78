from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from audit import services as audit
from audit.context import Actor, acting_as, client_ip
from iothub_console.errors import NotFound, ServiceError

from . import limits, task_files, tc3
from .actions import ACTIONS
from .middleware import SIGNED_HOST_KEY
from .models import APIKey
from .params import ApiError, validate

logger = logging.getLogger(__name__)

API_VERSION = "2021-04-08"
SERVICE = "iotcloud"
MAX_CLOCK_SKEW_SECONDS = 300
TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")


# The API door ----------------------------------------------------------------


@csrf_exempt
@login_not_required
def root(request: HttpRequest) -> HttpResponse:
    """`POST /` with X-TC-Action is the Tencent Cloud API; anything else is the console."""
    if request.method == "POST" and "HTTP_X_TC_ACTION" in request.META:
        return api(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return redirect("certificates:ca_list")


def api(request: HttpRequest) -> JsonResponse:
    request_id = str(uuid.uuid4())
    action_name = request.META.get("HTTP_X_TC_ACTION", "")
    try:
        _read_body(request)
        signed = authenticate(request)
        with acting_as(Actor(signed.key.secret_id, audit.Source.API, client_ip(request.META))):
            response = dispatch(signed, action_name, request.META.get("HTTP_X_TC_VERSION", ""), request.body)
    except (ApiError, ServiceError) as error:
        logger.info("API %s refused: %s", action_name, error.code)
        return _error(error.code, error.message, request_id)
    response["RequestId"] = request_id
    return JsonResponse({"Response": response})


def _read_body(request: HttpRequest) -> None:
    """Read the body once, so that one over Django's size limit is an API error, not an HTML 400."""
    try:
        _ = request.body
    except RequestDataTooBig:
        raise ApiError(
            "RequestSizeLimitExceeded",
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        ) from None


def _error(code: str, message: str, request_id: str) -> JsonResponse:
    # Tencent answers errors with HTTP 200 and the error inside Response.
    return JsonResponse({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}})


@dataclass(frozen=True)
class SignedRequest:
    key: APIKey
    signature: str
    timestamp: int


def authenticate(request: HttpRequest) -> SignedRequest:
    """The API key whose SecretKey made this request's TC3-HMAC-SHA256 signature."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise ApiError(
            "AuthFailure.SignatureFailure", "The request is not signed: the Authorization header is missing."
        )
    try:
        authorization = tc3.parse_authorization(header)
    except tc3.MalformedAuthorization as error:
        raise ApiError("AuthFailure.InvalidAuthorization", str(error)) from None
    timestamp = request.META.get("HTTP_X_TC_TIMESTAMP", "")
    # ASCII digits only, and few of them: str.isdigit() also accepts "²", which int()
    # refuses, and int() refuses numbers longer than 4,300 digits.
    if not TIMESTAMP_PATTERN.fullmatch(timestamp):
        raise ApiError(
            "AuthFailure.InvalidAuthorization", "The X-TC-Timestamp header must be a Unix time in seconds."
        )
    if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise ApiError(
            "AuthFailure.SignatureExpire",
            "The request's X-TC-Timestamp is more than 5 minutes away from the server's clock; "
            "check the client's clock and sign again.",
        )
    key = APIKey.objects.select_related("owner").filter(secret_id=authorization.secret_id).first()
    if key is None or not key.enabled or not key.owner.is_active:
        raise ApiError(
            "AuthFailure.SecretIdNotFound",
            "The SecretId does not exist or is disabled. Check it on the console's API Keys page.",
        )
    if not {"content-type", "host"} <= set(authorization.signed_headers):
        raise ApiError("AuthFailure.SignatureFailure", "SignedHeaders must include content-type and host.")
    expected_date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    if authorization.service != SERVICE or authorization.date != expected_date:
        raise ApiError(
            "AuthFailure.SignatureFailure",
            f"The credential scope must be <SecretId>/{expected_date}/{SERVICE}/tc3_request.",
        )
    if not hmac.compare_digest(
        authorization.signature, _expected_signature(request, authorization, key, timestamp)
    ):
        raise ApiError(
            "AuthFailure.SignatureFailure",
            "The signature does not match: the SecretKey is wrong or the request was changed after signing.",
        )
    return SignedRequest(key=key, signature=authorization.signature, timestamp=int(timestamp))


def _expected_signature(
    request: HttpRequest, authorization: tc3.Authorization, key: APIKey, timestamp: str
) -> str:
    headers = {name.lower(): value for name, value in request.headers.items()}
    # The Host as sent: tccli signs `http://host:port`, which the middleware shortened.
    headers["host"] = request.META.get(SIGNED_HOST_KEY, headers.get("host", ""))
    unsigned = request.META.get("HTTP_X_TC_CONTENT_SHA256", "") == tc3.UNSIGNED_PAYLOAD
    canonical = tc3.canonical_request(
        method=request.method or "POST",
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        headers=headers,
        signed_headers=authorization.signed_headers,
        payload_hash=tc3.payload_hash(request.body, unsigned=unsigned),
    )
    return tc3.signature(
        secret_key=key.secret_key,
        date=authorization.date,
        service=authorization.service,
        timestamp=timestamp,
        canonical=canonical,
    )


def dispatch(signed: SignedRequest, action_name: str, version: str, body: bytes) -> dict[str, Any]:
    if version != API_VERSION:
        raise ApiError(
            "NoSuchVersion",
            f"The API version {version!r} does not exist; this service answers {API_VERSION}.",
        )
    action = ACTIONS.get(action_name)
    if action is None:
        raise ApiError(
            "InvalidAction", f"The action {action_name!r} does not exist in IoT Hub API {API_VERSION}."
        )
    limits.admit(signed.key, action_name, signed.signature, signed.timestamp)
    try:
        params = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        # ValueError covers bad JSON and bad UTF-8, and also integers longer than Python
        # converts (4,300 digits); RecursionError is JSON nested too deeply to decode.
        raise ApiError("InvalidParameter", "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise ApiError("InvalidParameter", "The request body must be a JSON object.")
    return action.handler(signed.key.owner, validate(params, action.params))


# The console's API Keys page ---------------------------------------------------


def _account(request: HttpRequest) -> User:
    # Every console page requires sign-in (LoginRequiredMiddleware): the user is an account.
    assert isinstance(request.user, User)
    return request.user


def key_list(request: HttpRequest, new_key: APIKey | None = None) -> HttpResponse:
    keys = APIKey.objects.filter(owner=_account(request))
    return render(request, "api/apikey_list.html", {"keys": keys, "new_key": new_key})


@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        key = APIKey.objects.create(owner=_account(request))
        audit.record_api_key(audit.Action.API_KEY_CREATED, key)
    # The SecretKey is shown in this response only (no redirect): it never sits in
    # plain text in a session or a message store, and is not shown again.
    response = key_list(request, new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def key_enable(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(APIKey, pk=pk, owner=_account(request))
    key.enabled = request.POST.get("enabled") == "1"
    with transaction.atomic():
        key.save(update_fields=["enabled", "last_updated"])
        action = audit.Action.API_KEY_ENABLED if key.enabled else audit.Action.API_KEY_DISABLED
        audit.record_api_key(action, key)
    messages.success(request, f"API key {key.secret_id} is now {'enabled' if key.enabled else 'disabled'}.")
    return redirect("api:key_list")


@require_POST
def key_delete(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(APIKey, pk=pk, owner=_account(request))
    with transaction.atomic():
        audit.record_api_key(audit.Action.API_KEY_DELETED, key)
        key.delete()
    messages.success(request, f"API key {key.secret_id} was deleted.")
    return redirect("api:key_list")


# The upload address CreateTaskFileUrl hands out ------------------------------------------


@csrf_exempt
@login_not_required
@require_http_methods(["PUT"])
def task_file_upload(request: HttpRequest, name: str) -> HttpResponse:
    """A names file PUT as to a presigned URL: the random name in the address authorises it."""
    try:
        data = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _text(f"The file is larger than {limit:,} bytes.", status=413)
    try:
        task_files.receive_upload(name=name, data=data)
    except NotFound as error:
        return _text(error.message, status=404)
    except ServiceError as error:
        return _text(error.message, status=409)
    return _text("Uploaded.", status=200)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
