"""The IoT Hub actions of API version 2021-04-08, each a thin adapter onto the services.

An action takes the signed-in account and its checked parameters and returns the
response fields; rules live in the services, so the console and the API refuse
the same things with the same codes and messages.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from broker import publishing
from certificates import selectors as certificate_selectors
from certificates import services as certificate_services
from certificates import x509
from certificates.models import CACertificate
from products import platform
from products import selectors as product_selectors
from products import services as product_services
from products.models import Device, Product

from .params import ApiError, Param

PAGE_LIMIT = Param("int", required=True, minimum=10, maximum=250)
OFFSET = Param("int", required=True, minimum=0, maximum=2**31 - 1)
PLATFORM_CA_NAME = "Platform CA"
INVALID_VALUE_CODE = "InvalidParameterValue"
PAYLOAD_NOT_BASE64 = "Payload must be valid base64 when PayloadEncoding is base64."

PRODUCT_PROPERTIES = {
    "ProductDescription": Param("str"),
    "EncryptionType": Param("str", choices=("1", "2")),
    "Region": Param("str", choices=("gz",)),
    "ProductType": Param("int", choices=(0, 5)),
    "Format": Param("str", choices=("json", "custom")),
    "PrivateCAName": Param("str"),
}
DEVICE_TAG = {"Tag": Param("str"), "Type": Param("int"), "Value": Param("str"), "Name": Param("str")}

ENCRYPTION_TYPES = {"1": Product.AuthMethod.CERTIFICATE, "2": Product.AuthMethod.KEY}
ONLINE_NOT_ACTIVATED, ONLINE_OFFLINE, ONLINE_ONLINE = 3, 0, 1


@dataclass(frozen=True)
class Action:
    handler: Callable[[AbstractBaseUser, dict[str, Any]], dict[str, Any]]
    params: dict[str, Param]


ACTIONS: dict[str, Action] = {}


def action(name: str, **params: Param):
    def register(handler):
        ACTIONS[name] = Action(handler, params)
        return handler

    return register


def _seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _text(value: str) -> bytes:
    return value.encode("utf-8")


def cert_info(name: str, pem: str, created: datetime | None) -> dict[str, Any]:
    info = x509.describe_certificate(x509.load_certificate(pem.encode("ascii")))
    return {
        "CertName": name,
        "CertSN": info.serial_hex,
        "IssuerName": info.issuer,
        "Subject": info.subject,
        "CreateTime": _seconds(created),
        "EffectiveTime": _seconds(info.not_before),
        "ExpireTime": _seconds(info.not_after),
        "CertText": info.pem,
    }


def _ca_info(ca: CACertificate) -> dict[str, Any]:
    return cert_info(ca.name, ca.certificate_pem, ca.created)


def _owned_ca(owner: AbstractBaseUser, name: str) -> CACertificate:
    return certificate_selectors.get_ca_certificate_by_name(owner=owner, name=name)


def _owned_product(owner: AbstractBaseUser, product_id: str) -> Product:
    return product_selectors.get_product(owner=owner, product_id=product_id)


# Private CAs -----------------------------------------------------------------


@action(
    "CreatePrivateCA",
    CertName=Param("str", True),
    CertText=Param("str", True),
    VerifyCertText=Param("str", True),
)
def create_private_ca(owner, params):
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
def update_private_ca(owner, params):
    certificate_services.update_ca_certificate(
        ca_certificate=_owned_ca(owner, params["CertName"]),
        certificate_data=_text(params["CertText"]),
        verification_data=_text(params["VerifyCertText"]),
    )
    return {}


@action("DeletePrivateCA", CertName=Param("str", True))
def delete_private_ca(owner, params):
    certificate_services.delete_ca_certificate(ca_certificate=_owned_ca(owner, params["CertName"]))
    return {}


@action("DescribePrivateCA", CertName=Param("str", True))
def describe_private_ca(owner, params):
    return {"CA": _ca_info(_owned_ca(owner, params["CertName"]))}


@action("DescribePrivateCAs")
def describe_private_cas(owner, params):
    return {
        "CAs": [_ca_info(ca) for ca in CACertificate.objects.filter(owner=owner).order_by("created", "id")]
    }


@action(
    "DescribePrivateCABindedProducts",
    CertName=Param("str", True),
    Offset=OFFSET,
    Limit=Param("int", required=True, minimum=1, maximum=250),
)
def describe_private_ca_binded_products(owner, params):
    ca = _owned_ca(owner, params["CertName"])
    offset, limit = params["Offset"], params["Limit"]
    products = certificate_selectors.bound_products(ca)[offset : offset + limit]
    return {"Products": [{"ProductId": p.product_id, "ProductName": p.name} for p in products]}


@action("DescribeProductCA", ProductId=Param("str", True))
def describe_product_ca(owner, params):
    product = _owned_product(owner, params["ProductId"])
    if not product.uses_certificates:
        return {"CAs": []}
    if product.ca_certificate_id:
        return {"CAs": [_ca_info(product.ca_certificate)]}
    authority = platform.device_ca()
    return {"CAs": [cert_info(PLATFORM_CA_NAME, authority.certificate_pem, None)]}


# Products --------------------------------------------------------------------


def product_properties(product: Product) -> dict[str, Any]:
    return {
        "ProductDescription": product.description,
        "EncryptionType": "1" if product.uses_certificates else "2",
        "Region": product.region,
        "ProductType": product.product_type,
        "Format": product.data_format,
        "PrivateCAName": product.ca_certificate.name if product.ca_certificate_id else "",
        "ForbiddenStatus": 1 if product.forbidden else 0,
    }


def product_info(product: Product) -> dict[str, Any]:
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
def create_product(owner, params):
    properties = params.get("ProductProperties", {})
    auth_method = ENCRYPTION_TYPES[properties.get("EncryptionType", "1")]
    ca_name = properties.get("PrivateCAName", "")
    ca = None
    if auth_method == Product.AuthMethod.CERTIFICATE and ca_name:
        ca = certificate_selectors.get_ca_certificate_by_name(owner=owner, name=ca_name)
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
def describe_product(owner, params):
    return product_info(_owned_product(owner, params["ProductId"]))


@action("DescribeProducts", Offset=OFFSET, Limit=PAGE_LIMIT)
def describe_products(owner, params):
    products = Product.objects.filter(owner=owner).select_related("ca_certificate").order_by("created", "id")
    offset, limit = params["Offset"], params["Limit"]
    return {
        "TotalCount": products.count(),
        "Products": [product_info(product) for product in products[offset : offset + limit]],
    }


@action("DeleteProduct", ProductId=Param("str", True))
def delete_product(owner, params):
    product_services.delete_product(product=_owned_product(owner, params["ProductId"]))
    return {}


@action(
    "SetProductsForbiddenStatus", ProductId=Param("str_list", True), Status=Param("int", True, choices=(0, 1))
)
def set_products_forbidden_status(owner, params):
    if not params["ProductId"]:
        raise ApiError("MissingParameter", "The parameter ProductId must name at least one product.")
    # Every ID must be the caller's, or nothing changes.
    products = [_owned_product(owner, product_id) for product_id in params["ProductId"]]
    product_services.set_products_forbidden(products=products, forbidden=params["Status"] == 1)
    return {}


# Devices ---------------------------------------------------------------------


def _online(device: Device) -> int:
    if device.activated_at is None:
        return ONLINE_NOT_ACTIVATED
    return ONLINE_ONLINE if device.online else ONLINE_OFFLINE


def device_info(device: Device) -> dict[str, Any]:
    return {
        "DeviceName": device.name,
        "Online": _online(device),
        "LoginTime": _seconds(device.last_online_at),
        "FirstOnlineTime": _seconds(device.activated_at),
        "LastOfflineTime": _seconds(device.last_offline_at),
        "ClientIP": device.client_ip,
        "DeviceCert": device.certificate_pem,
        "DevicePsk": device.psk,
        "Tags": device.tags,
        "CreateTime": _seconds(device.created),
        "CertState": 1 if device.private_key_fetched or not device.has_generated_key else 0,
        "EnableState": 1 if device.enabled else 0,
    }


@action(
    "CreateDevice",
    ProductId=Param("str", True),
    DeviceName=Param("str", True),
    DefinedPsk=Param("str"),
    TlsCrt=Param("str"),
    Attribute=Param("object", fields={"Tags": Param("object_list", fields=DEVICE_TAG)}),
)
def create_device(owner, params):
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
    return {
        "DeviceName": device.name,
        "DevicePsk": device.psk,
        "DeviceCert": device.certificate_pem,
        "DevicePrivateKey": private_key,
    }


@action("DescribeDevice", ProductId=Param("str", True), DeviceName=Param("str", True))
def describe_device(owner, params):
    product = _owned_product(owner, params["ProductId"])
    return device_info(product_selectors.get_device(product=product, name=params["DeviceName"]))


@action(
    "DescribeDevices",
    ProductId=Param("str", True),
    Offset=OFFSET,
    Limit=PAGE_LIMIT,
    DeviceName=Param("str"),
    EnableState=Param("int", choices=(0, 1)),
    FirmwareVersion=Param("str"),
)
def describe_devices(owner, params):
    product = _owned_product(owner, params["ProductId"])
    devices = Device.objects.filter(product=product).order_by("created", "id")
    if params.get("DeviceName"):
        devices = devices.filter(name__icontains=params["DeviceName"])
    if "EnableState" in params:
        devices = devices.filter(enabled=params["EnableState"] == 1)
    if params.get("FirmwareVersion"):
        devices = devices.none()  # no device reports firmware to this console
    offset, limit = params["Offset"], params["Limit"]
    return {
        "TotalCount": devices.count(),
        "Devices": [device_info(device) for device in devices[offset : offset + limit]],
    }


@action("DeleteDevice", ProductId=Param("str", True), DeviceName=Param("str", True))
def delete_device(owner, params):
    product = _owned_product(owner, params["ProductId"])
    product_services.delete_device(
        device=product_selectors.get_device(product=product, name=params["DeviceName"])
    )
    return {}


@action(
    "UpdateDevicesEnableState",
    ProductId=Param("str", True),
    DeviceNames=Param("str_list", True),
    Status=Param("int", True, choices=(0, 1)),
)
def update_devices_enable_state(owner, params):
    product = _owned_product(owner, params["ProductId"])
    names = params["DeviceNames"]
    if not names:
        raise ApiError("MissingParameter", "The parameter DeviceNames must name at least one device.")
    known = set(Device.objects.filter(product=product, name__in=names).values_list("name", flat=True))
    missing = [name for name in names if name not in known]
    if missing:
        raise ApiError(
            product_selectors.DEVICE_NOT_EXIST_CODE, product_selectors.DEVICE_NOT_FOUND.format(name=missing[0])
        )
    product_services.set_devices_enabled(product=product, names=names, enabled=params["Status"] == 1)
    return {}


# Not an IoT Hub action: how an API caller reads the code for CreatePrivateCA's
# VerifyCertText (the console shows it on the Add Certificate page).
@action("DescribeAuthenticationCode")
def describe_authentication_code(owner, params):
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
def publish_message(owner: AbstractBaseUser, params: dict[str, Any]) -> dict[str, Any]:
    product = _owned_product(owner, params["ProductId"])
    device = product_selectors.get_device(product=product, name=params["DeviceName"])
    payload = _message_payload(params["Payload"], params.get("PayloadEncoding", ""))
    publishing.publish_message(device=device, topic=params["Topic"], payload=payload, qos=params.get("Qos", 0))
    return {}


def _message_payload(payload: str, encoding: str) -> bytes:
    if encoding != "base64":
        return payload.encode("utf-8")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(INVALID_VALUE_CODE, PAYLOAD_NOT_BASE64) from None
