"""The IoT Hub actions of API version 2021-04-08, each a thin adapter onto the services.

An action takes the signed-in account and its checked parameters and returns the
response fields; rules live in the services, so the console and the API refuse
the same things with the same codes and messages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from audit import services as audit
from batches import inputs as batch_inputs
from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.models import DeviceBatch
from broker import publishing
from broker import status as link_status
from certificates import selectors as certificate_selectors
from certificates import services as certificate_services
from certificates import x509
from certificates.models import CACertificate
from iothub_console.errors import NotFound
from iothub_console.validators import INVALID_VALUE_CODE
from lifecycle import services as lifecycle_services
from products import platform
from products import selectors as product_selectors
from products import services as product_services
from products.models import PLATFORM_CA_NAME, Device, Product

from . import task_files
from .params import ApiError, Param

Params = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[User, Params], Response]

PAGE_LIMIT = Param("int", required=True, minimum=10, maximum=250)
OFFSET = Param("int", required=True, minimum=0, maximum=2**31 - 1)
# DescribePrivateCABindedProducts and DescribeProductTasks take pages from a single item.
SHORT_PAGE_LIMIT = Param("int", required=True, minimum=1, maximum=250)

UNSUPPORTED_OPERATION_CODE = "UnsupportedOperation"
FIRMWARE_FILTER_UNSUPPORTED = (
    "DescribeDevices cannot filter by FirmwareVersion: no device reports its firmware to this console."
)
ENCRYPTION_TYPES = {"1": Product.AuthMethod.CERTIFICATE, "2": Product.AuthMethod.KEY}
PRODUCT_PROPERTIES = {
    "ProductDescription": Param("str"),
    "EncryptionType": Param("str", choices=tuple(ENCRYPTION_TYPES)),
    "Region": Param("str", choices=tuple(Product.Region.values)),
    "ProductType": Param("int", choices=tuple(Product.ProductType.values)),
    "Format": Param("str", choices=tuple(Product.DataFormat.values)),
    "PrivateCAName": Param("str"),
}
DEVICE_TAG = {"Tag": Param("str"), "Type": Param("int"), "Value": Param("str"), "Name": Param("str")}

ONLINE_NOT_ACTIVATED, ONLINE_OFFLINE, ONLINE_ONLINE = 3, 0, 1

# ProductTaskInfo.State: 0 creating, 1 waiting, 2 running, 3 failed, 4 partly failed, 5 done.
TASK_WAITING, TASK_RUNNING, TASK_FAILED, TASK_PARTLY_FAILED, TASK_DONE = 1, 2, 3, 4, 5
TASK_TYPE_BATCH_CREATE = 0
TASK_RANDOM = "random"
TASK_FILE = "cosfile"
TASK_NOT_EXIST_CODE = "ResourceNotFound.CreateMultiDeviceTaskNotExist"
TASK_NOT_FOUND = "There is no task {task_id} for this product."
PAYLOAD_NOT_BASE64 = "Payload must be valid base64 when PayloadEncoding is base64."
TASK_PARAMETER_REQUIRED = "The parameter {name} is required when ParametersType is {kind}."
TASK_ROWS_FAILED = "{failed:,} of {total:,} devices could not be created; the batch's page gives each reason."


@dataclass(frozen=True)
class Action:
    handler: Handler
    params: dict[str, Param]


ACTIONS: dict[str, Action] = {}


def action(name: str, **params: Param) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ACTIONS[name] = Action(handler, params)
        return handler

    return register


def _seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _text(value: str) -> bytes:
    return value.encode("utf-8")


def _ca_info(ca: CACertificate) -> Response:
    """CertInfo from the columns stored when the CA was registered: no PEM is parsed."""
    return {
        "CertName": ca.name,
        "CertSN": ca.serial_hex,
        "IssuerName": ca.issuer,
        "Subject": ca.subject,
        "CreateTime": _seconds(ca.created),
        "EffectiveTime": _seconds(ca.not_before),
        "ExpireTime": _seconds(ca.not_after),
        "CertText": ca.certificate_pem,
    }


def _platform_ca_info() -> Response:
    info = x509.describe_certificate(
        x509.load_certificate(platform.device_ca().certificate_pem.encode("ascii"))
    )
    return {
        "CertName": PLATFORM_CA_NAME,
        "CertSN": info.serial_hex,
        "IssuerName": info.issuer,
        "Subject": info.subject,
        "CreateTime": 0,
        "EffectiveTime": _seconds(info.not_before),
        "ExpireTime": _seconds(info.not_after),
        "CertText": info.pem,
    }


def _owned_ca(owner: User, name: str) -> CACertificate:
    return certificate_selectors.get_ca_certificate_by_name(owner=owner, name=name)


def _owned_product(owner: User, product_id: str) -> Product:
    return product_selectors.get_product(owner=owner, product_id=product_id)


def _owned_device(owner: User, product_id: str, name: str) -> Device:
    return product_selectors.get_device(product=_owned_product(owner, product_id), name=name)


def _page(params: Params) -> slice:
    return slice(params["Offset"], params["Offset"] + params["Limit"])


# Private CAs -----------------------------------------------------------------


@action(
    "CreatePrivateCA",
    CertName=Param("str", True),
    CertText=Param("str", True),
    VerifyCertText=Param("str", True),
)
def create_private_ca(owner: User, params: Params) -> Response:
    certificate_services.register_ca_certificate(
        owner=owner,
        name=params["CertName"],
        certificate_data=_text(params["CertText"]),
        verification_data=_text(params["VerifyCertText"]),
    )
    return {}


@action(
    "UpdatePrivateCA",
    CertName=Param("str", True),
    CertText=Param("str", True),
    VerifyCertText=Param("str", True),
)
def update_private_ca(owner: User, params: Params) -> Response:
    certificate_services.update_ca_certificate(
        ca_certificate=_owned_ca(owner, params["CertName"]),
        certificate_data=_text(params["CertText"]),
        verification_data=_text(params["VerifyCertText"]),
    )
    return {}


@action("DeletePrivateCA", CertName=Param("str", True))
def delete_private_ca(owner: User, params: Params) -> Response:
    certificate_services.delete_ca_certificate(ca_certificate=_owned_ca(owner, params["CertName"]))
    return {}


@action("DescribePrivateCA", CertName=Param("str", True))
def describe_private_ca(owner: User, params: Params) -> Response:
    return {"CA": _ca_info(_owned_ca(owner, params["CertName"]))}


@action("DescribePrivateCAs")
def describe_private_cas(owner: User, params: Params) -> Response:
    return {"CAs": [_ca_info(ca) for ca in certificate_selectors.ca_certificates_oldest_first(owner)]}


@action(
    "DescribePrivateCABindedProducts",
    CertName=Param("str", True),
    Offset=OFFSET,
    Limit=SHORT_PAGE_LIMIT,
)
def describe_private_ca_binded_products(owner: User, params: Params) -> Response:
    products = certificate_selectors.bound_products(_owned_ca(owner, params["CertName"]))[_page(params)]
    return {"Products": [{"ProductId": p.product_id, "ProductName": p.name} for p in products]}


@action("DescribeProductCA", ProductId=Param("str", True))
def describe_product_ca(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    if not product.uses_certificates:
        return {"CAs": []}
    if product.ca_certificate is not None:
        second = lifecycle_services.second_ca(product)
        return {"CAs": [_ca_info(ca) for ca in (product.ca_certificate, second) if ca is not None]}
    return {"CAs": [_platform_ca_info()]}


@action("UpdateProductPrivateCA", ProductId=Param("str", True), CertName=Param("str", True))
def update_product_private_ca(owner: User, params: Params) -> Response:
    # A CA rollover: the product trusts this CA beside its own until DeleteProductPrivateCA.
    product = _owned_product(owner, params["ProductId"])
    lifecycle_services.set_second_ca(product=product, ca_certificate=_owned_ca(owner, params["CertName"]))
    return {}


@action("DeleteProductPrivateCA", ProductId=Param("str", True))
def delete_product_private_ca(owner: User, params: Params) -> Response:
    lifecycle_services.remove_second_ca(product=_owned_product(owner, params["ProductId"]))
    return {}


# Products --------------------------------------------------------------------


def product_properties(product: Product) -> Response:
    return {
        "ProductDescription": product.description,
        "EncryptionType": "1" if product.uses_certificates else "2",
        "Region": product.region,
        "ProductType": product.product_type,
        "Format": product.data_format,
        "PrivateCAName": product.ca_certificate.name if product.ca_certificate is not None else "",
        "ForbiddenStatus": 1 if product.forbidden else 0,
    }


def product_info(product: Product) -> Response:
    return {
        "ProductId": product.product_id,
        "ProductName": product.name,
        "ProductMetadata": {"CreationDate": _seconds(product.created)},
        "ProductProperties": product_properties(product),
    }


@action(
    "CreateProduct",
    ProductName=Param("str", True),
    ProductProperties=Param("object", fields=PRODUCT_PROPERTIES),
)
def create_product(owner: User, params: Params) -> Response:
    properties = params.get("ProductProperties", {})
    auth_method = ENCRYPTION_TYPES[properties.get("EncryptionType", "1")]
    ca_name = properties.get("PrivateCAName", "")
    ca = None
    if auth_method == Product.AuthMethod.CERTIFICATE and ca_name:
        ca = _owned_ca(owner, ca_name)
    product = product_services.create_product(
        owner=owner,
        name=params["ProductName"],
        auth_method=auth_method,
        ca_certificate=ca,
        data_format=properties.get("Format", Product.DataFormat.JSON),
        description=properties.get("ProductDescription", ""),
        product_type=properties.get("ProductType", Product.ProductType.GENERAL),
    )
    return {
        "ProductName": product.name,
        "ProductId": product.product_id,
        "ProductProperties": product_properties(product),
    }


@action("DescribeProduct", ProductId=Param("str", True))
def describe_product(owner: User, params: Params) -> Response:
    return product_info(_owned_product(owner, params["ProductId"]))


@action("DescribeProducts", Offset=OFFSET, Limit=PAGE_LIMIT)
def describe_products(owner: User, params: Params) -> Response:
    # An account has at most 2,000 products: counting them is one index range.
    products = product_selectors.products_oldest_first(owner)
    return {
        "TotalCount": products.count(),
        "Products": [product_info(product) for product in products[_page(params)]],
    }


@action("DeleteProduct", ProductId=Param("str", True))
def delete_product(owner: User, params: Params) -> Response:
    product_services.delete_product(product=_owned_product(owner, params["ProductId"]))
    return {}


@action(
    "SetProductsForbiddenStatus", ProductId=Param("str_list", True), Status=Param("int", True, choices=(0, 1))
)
def set_products_forbidden_status(owner: User, params: Params) -> Response:
    if not params["ProductId"]:
        raise ApiError("MissingParameter", "The parameter ProductId must name at least one product.")
    # Every ID must be the caller's, or nothing changes.
    products = [_owned_product(owner, product_id) for product_id in params["ProductId"]]
    product_services.set_products_forbidden(products=products, forbidden=params["Status"] == 1)
    return {}


# Devices ---------------------------------------------------------------------


# What DeviceInfo is made of: a list reads these columns alone, as plain rows.
DEVICE_INFO_FIELDS = (
    "name",
    "enabled",
    "activated_at",
    "online",
    "last_online_at",
    "last_offline_at",
    "client_ip",
    "certificate_pem",
    "psk",
    "tags",
    "created",
    "key_origin",
    "private_key_fetched",
)


def device_info(device: Device) -> Response:
    return device_row_info({field: getattr(device, field) for field in DEVICE_INFO_FIELDS})


def device_row_info(row: dict[str, Any]) -> Response:
    if row["activated_at"] is None:
        online = ONLINE_NOT_ACTIVATED
    else:
        online = ONLINE_ONLINE if row["online"] else ONLINE_OFFLINE
    key_pending = row["key_origin"] == Device.KeyOrigin.GENERATED and not row["private_key_fetched"]
    return {
        "DeviceName": row["name"],
        "Online": online,
        "LoginTime": _seconds(row["last_online_at"]),
        "FirstOnlineTime": _seconds(row["activated_at"]),
        "LastOfflineTime": _seconds(row["last_offline_at"]),
        "ClientIP": row["client_ip"],
        "DeviceCert": row["certificate_pem"],
        "DevicePsk": row["psk"],
        "Tags": row["tags"],
        "CreateTime": _seconds(row["created"]),
        "CertState": 0 if key_pending else 1,
        "EnableState": 1 if row["enabled"] else 0,
    }


@action(
    "CreateDevice",
    ProductId=Param("str", True),
    DeviceName=Param("str", True),
    DefinedPsk=Param("str"),
    TlsCrt=Param("str"),
    Attribute=Param("object", fields={"Tags": Param("object_list", fields=DEVICE_TAG)}),
)
def create_device(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    credentials = product_services.DeviceCredentials(
        certificate_data=_text(params["TlsCrt"]) if params.get("TlsCrt") else None,
        psk=params.get("DefinedPsk") or None,
    )
    device = product_services.create_device(
        product=product,
        name=params["DeviceName"],
        credentials=credentials,
        tags=params.get("Attribute", {}).get("Tags", []),
    )
    # The API hands a generated key out in this response, as IoT Hub does; the
    # console then shows it as already fetched.
    private_key = product_services.take_private_key(device=device) if device.has_generated_key else ""
    if device.psk:
        audit.record_devices(audit.Action.PSK_SHOWN, product, [device.name], "Returned by CreateDevice")
    return {
        "DeviceName": device.name,
        "DevicePsk": device.psk,
        "DeviceCert": device.certificate_pem,
        "DevicePrivateKey": private_key,
    }


@action("DescribeDevice", ProductId=Param("str", True), DeviceName=Param("str", True))
def describe_device(owner: User, params: Params) -> Response:
    device = _owned_device(owner, params["ProductId"], params["DeviceName"])
    if device.psk:
        audit.record_devices(audit.Action.PSK_SHOWN, device.product, [device.name], detail="DescribeDevice")
    return device_info(device)


@action(
    "DescribeDevices",
    ProductId=Param("str", True),
    Offset=OFFSET,
    Limit=PAGE_LIMIT,
    DeviceName=Param("str"),
    EnableState=Param("int", choices=(0, 1)),
    FirmwareVersion=Param("str"),
)
def describe_devices(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    # Plain rows of the columns DeviceInfo shows: a page of 100 built as models, with
    # every date column converted, cost more than the rest of the request.
    devices = product_selectors.devices_oldest_first(product)
    filtered = False
    if params.get("DeviceName"):
        devices, filtered = devices.filter(name__icontains=params["DeviceName"]), True
    if "EnableState" in params:
        devices, filtered = devices.filter(enabled=params["EnableState"] == 1), True
    if params.get("FirmwareVersion"):
        # No device reports its firmware to this console: the filter cannot be honoured.
        raise ApiError(UNSUPPORTED_OPERATION_CODE, FIRMWARE_FILTER_UNSUPPORTED)
    listed = [device_row_info(row) for row in devices.values(*DEVICE_INFO_FIELDS)[_page(params)]]
    shown = [info["DeviceName"] for info in listed if info["DevicePsk"]]
    if shown:
        # One entry per call, not per device: a script polling the list would flood the log.
        detail = f"DescribeDevices returned the PSKs of {len(shown)} device(s): {', '.join(shown)}"
        audit.record_product(audit.Action.PSK_SHOWN, product, detail=detail)
    return {
        # Unfiltered, the total is the product's stored count: nothing is counted.
        "TotalCount": devices.count() if filtered else product.device_count,
        "Devices": listed,
    }


@action("DeleteDevice", ProductId=Param("str", True), DeviceName=Param("str", True))
def delete_device(owner: User, params: Params) -> Response:
    product_services.delete_device(device=_owned_device(owner, params["ProductId"], params["DeviceName"]))
    return {}


@action(
    "UpdateDevicesEnableState",
    ProductId=Param("str", True),
    DeviceNames=Param("str_list", True),
    Status=Param("int", True, choices=(0, 1)),
)
def update_devices_enable_state(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    names = params["DeviceNames"]
    if not names:
        raise ApiError("MissingParameter", "The parameter DeviceNames must name at least one device.")
    known = product_selectors.existing_device_names(product, names)
    missing = [name for name in names if name not in known]
    if missing:
        raise ApiError(
            product_selectors.DEVICE_NOT_EXIST_CODE,
            product_selectors.DEVICE_NOT_FOUND.format(name=missing[0]),
        )
    product_services.set_devices_enabled(product=product, names=names, enabled=params["Status"] == 1)
    return {}


@action(
    "UpdateDeviceAvailableState",
    ProductId=Param("str", True),
    DeviceName=Param("str", True),
    EnableState=Param("int", True, choices=(0, 1)),
)
def update_device_available_state(owner: User, params: Params) -> Response:
    device = _owned_device(owner, params["ProductId"], params["DeviceName"])
    product_services.set_devices_enabled(
        product=device.product, names=[device.name], enabled=params["EnableState"] == 1
    )
    return {}


@action("ResetDeviceState", ProductId=Param("str", True), DeviceNames=Param("str_list", True))
def reset_device_state(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    names = list(dict.fromkeys(params["DeviceNames"]))
    if not names:
        raise ApiError("MissingParameter", "The parameter DeviceNames must name at least one device.")
    reset = link_status.reset_device_states(product=product, names=names)
    # The official SDK's ResetDeviceResult shape: {DeviceName, Success, Reason}.
    results = [
        {"DeviceName": name, "Success": True, "Reason": ""}
        if name in reset
        else {
            "DeviceName": name,
            "Success": False,
            "Reason": product_selectors.DEVICE_NOT_FOUND.format(name=name),
        }
        for name in names
    ]
    return {"SuccessCount": len(reset), "ResetDeviceResults": results}


@action(
    "UpdateDevicePSK", ProductId=Param("str", True), DeviceName=Param("str", True), Psk=Param("str", True)
)
def update_device_psk(owner: User, params: Params) -> Response:
    device = _owned_device(owner, params["ProductId"], params["DeviceName"])
    product_services.update_device_psk(device=device, psk=params["Psk"])
    return {}


@action("DescribeDeviceClientKey", ProductId=Param("str", True), DeviceName=Param("str", True))
def describe_device_client_key(owner: User, params: Params) -> Response:
    # The console's one-time key: this answer uses it up, as Download Device Private Key does.
    device = _owned_device(owner, params["ProductId"], params["DeviceName"])
    return {"ClientKey": product_services.take_private_key(device=device)}


# Batch tasks -----------------------------------------------------------------


def _task_state(batch: DeviceBatch) -> int:
    if batch.status == DeviceBatch.Status.QUEUED:
        return TASK_WAITING
    if batch.status == DeviceBatch.Status.RUNNING:
        return TASK_RUNNING
    if batch.status == DeviceBatch.Status.FAILED:
        return TASK_FAILED
    return TASK_PARTLY_FAILED if batch.failed else TASK_DONE


def _task_result(batch: DeviceBatch) -> str:
    if batch.status == DeviceBatch.Status.FAILED:
        return batch.error
    if batch.is_finished and batch.failed:
        return TASK_ROWS_FAILED.format(failed=batch.failed, total=batch.total)
    return ""


def task_info(batch: DeviceBatch) -> Response:
    return {
        "Id": batch.pk,
        "Type": TASK_TYPE_BATCH_CREATE,
        "State": _task_state(batch),
        "ParametersType": TASK_RANDOM if batch.kind == DeviceBatch.Kind.AUTO else TASK_FILE,
        "Parameters": json.dumps({"BatchCount": batch.total}),
        "ResultType": "errmsg",
        "Result": _task_result(batch),
        "BatchCount": batch.total,
        "BatchOffset": batch.processed,
        "CreateTime": _seconds(batch.created),
        "UpdateTime": _seconds(batch.last_updated),
        "CompleteTime": _seconds(batch.finished_at),
    }


@action(
    "CreateMultiDevicesTask",
    ProductId=Param("str", True),
    ParametersType=Param("str", True, choices=(TASK_RANDOM, TASK_FILE)),
    FileName=Param("str"),
    FileSize=Param("int", minimum=0, maximum=2**31 - 1),
    BatchCount=Param("int", minimum=1, maximum=batch_inputs.MAX_DEVICES),
    Hash=Param("str"),
)
def create_multi_devices_task(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    kind = params["ParametersType"]
    needed = ("FileName", "FileSize", "Hash") if kind == TASK_FILE else ("BatchCount",)
    for name in needed:
        if name not in params:
            raise ApiError("MissingParameter", TASK_PARAMETER_REQUIRED.format(name=name, kind=kind))
    if kind == TASK_RANDOM:
        # The console's Auto-generate: the same names and the same batch, run by the worker.
        names = batch_inputs.generated_names(params["BatchCount"])
        batch = batch_services.start_batch(
            owner=owner, product=product, kind=DeviceBatch.Kind.AUTO, names=names
        )
        return {"Id": batch.pk}
    # The console's CSV upload, from the file put to CreateTaskFileUrl's address; the
    # file is used up only if the batch starts.
    with transaction.atomic():
        data = task_files.take_task_file(
            owner=owner, product=product, name=params["FileName"], size=params["FileSize"], md5=params["Hash"]
        )
        try:
            names = batch_inputs.read_device_names(data)
        except batch_inputs.InputError as error:
            raise ApiError(INVALID_VALUE_CODE, error.message) from None
        batch = batch_services.start_batch(
            owner=owner,
            product=product,
            kind=DeviceBatch.Kind.NAMES,
            names=names,
            source_name=params["FileName"],
        )
    return {"Id": batch.pk}


@action("CreateTaskFileUrl", ProductId=Param("str", True))
def create_task_file_url(owner: User, params: Params) -> Response:
    task_file = task_files.create_task_file(owner=owner, product=_owned_product(owner, params["ProductId"]))
    return {"Url": task_files.upload_url(task_file), "FileName": task_file.name}


@action("GetUserResourceInfo")
def get_user_resource_info(owner: User, params: Params) -> Response:
    # The account's resource files are its names files waiting for a task.
    return {"UsedSize": task_files.storage_used(owner), "Limit": task_files.STORAGE_LIMIT_BYTES}


@action(
    "DescribeProductTask",
    ProductId=Param("str", True),
    TaskId=Param("int", required=True, minimum=1, maximum=2**63 - 1),
)
def describe_product_task(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    batch = batch_selectors.batches_for(owner, product).filter(pk=params["TaskId"]).first()
    if batch is None:
        raise NotFound(TASK_NOT_EXIST_CODE, TASK_NOT_FOUND.format(task_id=params["TaskId"]))
    return {"TaskInfo": task_info(batch)}


@action("DescribeProductTasks", ProductId=Param("str", True), Offset=OFFSET, Limit=SHORT_PAGE_LIMIT)
def describe_product_tasks(owner: User, params: Params) -> Response:
    batches = batch_selectors.batches_for(owner, _owned_product(owner, params["ProductId"])).order_by("-id")
    return {
        "TotalCount": batches.count(),
        "TaskInfos": [task_info(batch) for batch in batches[_page(params)]],
    }


# Not an IoT Hub action: how an API caller reads the code for CreatePrivateCA's
# VerifyCertText (the console shows it on the Add Certificate page).
@action("DescribeAuthenticationCode")
def describe_authentication_code(owner: User, params: Params) -> Response:
    code = certificate_services.current_authentication_code(owner=owner)
    return {"AuthenticationCode": code.code, "ExpireTime": _seconds(code.expires_at)}


@action(
    "PublishMessage",
    ProductId=Param("str", True),
    DeviceName=Param("str", True),
    Topic=Param("str", True),
    Payload=Param("str", True),
    Qos=Param("int", choices=publishing.QOS_LEVELS),
    PayloadEncoding=Param("str", choices=("", "base64")),
)
def publish_message(owner: User, params: Params) -> Response:
    product = _owned_product(owner, params["ProductId"])
    device = product_selectors.get_device(product=product, name=params["DeviceName"])
    payload = _message_payload(params["Payload"], params.get("PayloadEncoding", ""))
    publishing.publish_message(
        device=device, topic=params["Topic"], payload=payload, qos=params.get("Qos", 0)
    )
    return {}


def _message_payload(payload: str, encoding: str) -> bytes:
    if encoding != "base64":
        return payload.encode("utf-8")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(INVALID_VALUE_CODE, PAYLOAD_NOT_BASE64) from None
