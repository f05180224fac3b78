"""Products and devices: the rules, shared by the console and the Tencent Cloud API."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from cryptography import x509 as cx509
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from accounts.locking import lock_account
from audit import services as audit
from certificates import issuance, x509
from certificates import selectors as certificate_selectors
from certificates import validators as certificate_validators
from certificates.models import CACertificate
from iothub_console.errors import ServiceError
from iothub_console.validators import INVALID_VALUE_CODE, check

from . import bundles, platform, selectors, validators
from .models import Device, Product, new_product_id
from .signals import revoke_access

PSK_BYTES = 24

# Tencent Cloud error codes.
PRODUCT_EXISTS_CODE = "InvalidParameterValue.ProductAlreadyExist"
PRODUCT_LIMIT_CODE = "LimitExceeded.ProductExceedLimit"
DEVICES_EXIST_CODE = "UnauthorizedOperation.DevicesExistUnderProduct"
PRODUCT_FORBIDDEN_CODE = "UnauthorizedOperation.ProductIsForbidden"
DEVICE_EXISTS_CODE = "InvalidParameterValue.DeviceAlreadyExist"
PSK_ON_CERT_PRODUCT_CODE = "UnauthorizedOperation.ProductNotSupportPSK"
WRONG_AUTH_TYPE_CODE = "UnsupportedOperation.WrongProductAuthType"
KEY_ALREADY_FETCHED_CODE = "UnsupportedOperation.ClientCertAlreadyGot"
CERT_INVALID_CODE = "InvalidParameterValue.CACertNotMatch"

PRODUCT_NAME_TAKEN = 'You already have a product named "{name}". Choose another name.'
PRODUCT_LIMIT_REACHED = "An account can have at most {limit:,} products. Delete one you no longer use first."
CA_REQUIRED = "Choose the CA certificate that issues this product's device certificates, or Platform CA."
PRODUCT_HAS_DEVICES = (
    'The product "{name}" still has {count:,} device(s). Delete its devices before deleting the product.'
)
PRODUCT_IS_FORBIDDEN = (
    'The product "{name}" is forbidden: it cannot get new devices until it is enabled again.'
)
DEVICE_NAME_TAKEN = 'The product already has a device named "{name}".'
CERTIFICATE_REQUIRED = 'Upload the device certificate, issued by the product\'s CA "{ca}".'
WRONG_COMMON_NAME = (
    'The device certificate\'s Common Name must be exactly "{expected}" (the Product ID '
    'followed by the device name), but it is "{actual}".'
)
DEVICE_CERTIFICATE_IS_CA = (
    "This is a CA certificate (basicConstraints CA:TRUE). A device needs its own certificate, "
    "issued by the CA with -extensions v3_req."
)
CERTIFICATE_IN_USE = (
    "This certificate is already used by another device. Each device needs its own certificate."
)
PSK_ON_CERT_PRODUCT = "This product authenticates devices with certificates; a PSK cannot be set."
CERTIFICATE_ON_KEY_PRODUCT = "This product authenticates devices with keys; a certificate cannot be uploaded."
CERTIFICATE_ON_PLATFORM_PRODUCT = "This product's device certificates are issued by the Platform CA: generate a key or upload a CSR instead."
CSR_ON_CUSTOM_CA_PRODUCT = (
    'Only Platform CA products sign CSRs; upload a certificate issued by "{ca}" instead.'
)
KEY_ALREADY_FETCHED = (
    "The device's private key was already downloaded and is no longer stored. "
    "Delete and re-create the device if the key was lost."
)
NO_GENERATED_KEY = "This device's private key was never held by the console; it stays on the device."

PRODUCT_NAME_FIELD = "name"
CA_FIELD = "ca_certificate"
DESCRIPTION_FIELD = "description"
DEVICE_NAME_FIELD = "name"
DEVICE_CERTIFICATE_FIELD = "device_certificate"
CSR_FIELD = "csr"
PSK_FIELD = "psk"


# Products ------------------------------------------------------------------


def create_product(
    *,
    owner: User,
    name: str,
    auth_method: str,
    ca_certificate: CACertificate | None,
    data_format: str = Product.DataFormat.JSON,
    description: str = "",
    product_type: int = Product.ProductType.GENERAL,
    device_key_algorithm: str = Product.KeyAlgorithm.EC_P256,
) -> Product:
    """A product; `ca_certificate` None with Certificate auth means the Platform CA."""
    check(validators.validate_product_name, name, field=PRODUCT_NAME_FIELD)
    check(validators.validate_description, description, field=DESCRIPTION_FIELD)
    if auth_method == Product.AuthMethod.KEY:
        ca_certificate = None
    if ca_certificate is not None and ca_certificate.owner_id != owner.pk:
        raise ServiceError(
            certificate_selectors.CA_NOT_EXIST_CODE,
            certificate_selectors.CA_NOT_FOUND.format(name=ca_certificate.name),
            CA_FIELD,
        )
    with transaction.atomic():
        lock_account(owner)
        if Product.objects.filter(owner=owner, name=name).exists():
            raise ServiceError(PRODUCT_EXISTS_CODE, PRODUCT_NAME_TAKEN.format(name=name), PRODUCT_NAME_FIELD)
        limit = settings.IOTHUB_PRODUCT_LIMIT
        if Product.objects.filter(owner=owner).count() >= limit:
            raise ServiceError(PRODUCT_LIMIT_CODE, PRODUCT_LIMIT_REACHED.format(limit=limit))
        product = Product(
            owner=owner,
            name=name,
            auth_method=auth_method,
            ca_certificate=ca_certificate,
            data_format=data_format,
            description=description,
            product_type=product_type,
            device_key_algorithm=device_key_algorithm,
            product_id=_unused_product_id(),
        )
        product.full_clean()
        product.save()
        audit.record_product(audit.Action.PRODUCT_CREATED, product, detail=f"CA: {product.ca_display_name}")
        return product


def _unused_product_id() -> str:
    while True:
        candidate = new_product_id()
        if not Product.objects.filter(product_id=candidate).exists():
            return candidate


def delete_product(*, product: Product) -> None:
    with transaction.atomic():
        lock_account(product.owner)
        count = product.devices.count()
        if count:
            raise ServiceError(DEVICES_EXIST_CODE, PRODUCT_HAS_DEVICES.format(name=product.name, count=count))
        audit.record_product(audit.Action.PRODUCT_DELETED, product)
        product.delete()
        revoke_access(product_ids=[product.product_id])


def set_products_forbidden(*, products: list[Product], forbidden: bool) -> None:
    action = audit.Action.PRODUCT_FORBIDDEN if forbidden else audit.Action.PRODUCT_ALLOWED
    with transaction.atomic():
        Product.objects.filter(pk__in=[product.pk for product in products]).update(
            forbidden=forbidden, last_updated=timezone.now()
        )
        changed = {product.pk: product for product in products if product.forbidden != forbidden}
        for product in changed.values():
            audit.record_product(action, product)
        if forbidden:
            revoke_access(product_ids=[product.product_id for product in products])


# Devices -------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceCredentials:
    """How a device authenticates, as one of the three kinds the form or API gives."""

    certificate_data: bytes | None = None
    csr_data: bytes | None = None
    psk: str | None = None
    # `certificate_data` already loaded with x509.load_certificate, when the caller
    # had to read it anyway (a batch reads the device name from its CN): not parsed twice.
    loaded_certificate: cx509.Certificate | None = None


# Tencent's device tags ({"Tag", "Type", "Value", "Name"}) are stored as given,
# within bounds: a device's row stays small whatever a client sends.
MAX_DEVICE_TAGS = 100
MAX_TAG_TEXT = 128
TOO_MANY_TAGS = f"A device can have at most {MAX_DEVICE_TAGS} tags."
TAG_TEXT_TOO_LONG = f"A tag's Tag, Name and Value are at most {MAX_TAG_TEXT} characters each."


def validate_tags(tags: list[dict]) -> None:
    if len(tags) > MAX_DEVICE_TAGS:
        raise ServiceError(INVALID_VALUE_CODE, TOO_MANY_TAGS)
    for tag in tags:
        if any(isinstance(value, str) and len(value) > MAX_TAG_TEXT for value in tag.values()):
            raise ServiceError(INVALID_VALUE_CODE, TAG_TEXT_TOO_LONG)


def prepare_device(
    *,
    product: Product,
    name: str,
    credentials: DeviceCredentials,
    tags: list[dict] | None = None,
    authority: platform.Authority | None = None,
    issuer: cx509.Certificate | None = None,
) -> Device:
    """A new, unsaved device, after every check that does not depend on other devices.

    Batches call this once per row with the Platform CA (`authority`) or the
    product's own CA (`issuer`) loaded once, then check names and certificates
    against the product in bulk.
    """
    check(validators.validate_device_name, name, field=DEVICE_NAME_FIELD)
    if product.forbidden:
        raise ServiceError(PRODUCT_FORBIDDEN_CODE, PRODUCT_IS_FORBIDDEN.format(name=product.name))
    validate_tags(tags or [])
    device = Device(product=product, name=name, tags=tags or [])
    if product.auth_method == Product.AuthMethod.KEY:
        _set_psk(device, credentials)
    elif product.ca_certificate_id:
        _set_uploaded_certificate(device, product, credentials, issuer)
    else:
        _set_platform_certificate(device, product, credentials, authority or platform.device_ca())
    return device


def create_device(
    *, product: Product, name: str, credentials: DeviceCredentials, tags: list[dict] | None = None
) -> Device:
    """Add a device after every check its product's authentication method calls for."""
    device = prepare_device(product=product, name=name, credentials=credentials, tags=tags)
    with transaction.atomic():
        lock_account(product.owner)
        if Device.objects.filter(product=product, name=name).exists():
            raise ServiceError(DEVICE_EXISTS_CODE, DEVICE_NAME_TAKEN.format(name=name), DEVICE_NAME_FIELD)
        if (
            device.certificate_fingerprint
            and Device.objects.filter(certificate_fingerprint=device.certificate_fingerprint).exists()
        ):
            raise ServiceError(CERT_INVALID_CODE, CERTIFICATE_IN_USE, DEVICE_CERTIFICATE_FIELD)
        device.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                device.save()
        except IntegrityError:
            raise ServiceError(
                DEVICE_EXISTS_CODE, DEVICE_NAME_TAKEN.format(name=name), DEVICE_NAME_FIELD
            ) from None
        count_devices(product, +1)
        audit.record_devices(
            audit.Action.DEVICE_ADDED, product, [name], detail=device.get_key_origin_display()
        )
    return device


def insert_devices(product: Product, devices: list[Device]) -> None:
    """Insert new devices of `product`, as `bulk_create` would, and give each its id.

    `bulk_create` compiles a multi-row INSERT for every 41 devices on SQLite (Django's
    999 parameters over 24 columns), and compiling it took a third of a batch's time.
    Here one prepared INSERT runs for every device, with each value prepared exactly as
    `bulk_create` prepares it (`pre_save`, then `get_db_prep_save`: timestamps, JSON,
    encryption). The ids are then read back by (product, name), which is unique.
    """
    if not devices:
        return
    connection = connections[router.db_for_write(Device)]
    fields = [field for field in Device._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only the model's own quoted names go into the text; every value is a parameter.
    sql = f"INSERT INTO {quote(Device._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    rows = [
        [field.get_db_prep_save(field.pre_save(device, True), connection) for field in fields]
        for device in devices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    ids = dict(
        Device.objects.using(connection.alias)
        .filter(product=product, name__in=[device.name for device in devices])
        .values_list("name", "pk")
    )
    for device in devices:
        device.pk = ids[device.name]
        device._state.adding = False
        device._state.db = connection.alias


def count_devices(product: Product, change: int) -> None:
    """Keep Product.device_count in step; call inside the transaction that adds or deletes."""
    Product.objects.filter(pk=product.pk).update(device_count=F("device_count") + change)


def _set_psk(device: Device, credentials: DeviceCredentials) -> None:
    if credentials.certificate_data or credentials.csr_data:
        raise ServiceError(WRONG_AUTH_TYPE_CODE, CERTIFICATE_ON_KEY_PRODUCT, DEVICE_CERTIFICATE_FIELD)
    psk = (credentials.psk or "").strip()
    if psk:
        check(validators.validate_psk, psk, field=PSK_FIELD)
    else:
        psk = base64.b64encode(secrets.token_bytes(PSK_BYTES)).decode("ascii")
    device.key_origin = Device.KeyOrigin.PSK
    device.psk = psk
    device.psk_updated = timezone.now()


def _refuse_psk(credentials: DeviceCredentials) -> None:
    if credentials.psk:
        raise ServiceError(PSK_ON_CERT_PRODUCT_CODE, PSK_ON_CERT_PRODUCT, PSK_FIELD)


def _set_uploaded_certificate(
    device: Device, product: Product, credentials: DeviceCredentials, issuer: cx509.Certificate | None
) -> None:
    _refuse_psk(credentials)
    ca = product.ca_certificate
    assert ca is not None  # called for products bound to their own CA only
    if credentials.csr_data:
        raise ServiceError(WRONG_AUTH_TYPE_CODE, CSR_ON_CUSTOM_CA_PRODUCT.format(ca=ca.name), CSR_FIELD)
    if not credentials.certificate_data:
        raise ServiceError(
            INVALID_VALUE_CODE, CERTIFICATE_REQUIRED.format(ca=ca.name), DEVICE_CERTIFICATE_FIELD
        )
    check(
        certificate_validators.validate_certificate_size,
        len(credentials.certificate_data),
        field=DEVICE_CERTIFICATE_FIELD,
    )
    now = timezone.now()
    role = "device certificate"
    try:
        certificate = credentials.loaded_certificate or x509.load_certificate(credentials.certificate_data)
        actual = x509.common_name(certificate.subject)
        expected = f"{product.product_id}{device.name}"
        if actual != expected:
            raise x509.CertificateError(WRONG_COMMON_NAME.format(expected=expected, actual=actual))
        ca_certificate = issuer or x509.load_certificate(ca.certificate_pem.encode("ascii"))
        # Before the signature check: cryptography cannot verify MD5 or SHA-1 signatures,
        # and "not supported" would hide the actionable reason.
        x509.check_signature_hash(certificate, role)
        _verify_issued_by_product_ca(certificate, ca_certificate, product, role)
        x509.check_validity(certificate, now, role)
        x509.check_key_strength(certificate, role)
        if not x509.allows_client_auth(certificate):
            raise x509.CertificateError(x509.NO_CLIENT_AUTH.format(role=role))
        if x509.is_ca(certificate):
            raise x509.CertificateError(DEVICE_CERTIFICATE_IS_CA)
    except x509.CertificateError as error:
        raise ServiceError(CERT_INVALID_CODE, error.message, DEVICE_CERTIFICATE_FIELD) from None
    device.key_origin = Device.KeyOrigin.UPLOADED_CERTIFICATE
    _store_certificate(device, certificate)


def _verify_issued_by_product_ca(
    certificate: cx509.Certificate, primary: cx509.Certificate, product: Product, role: str
) -> None:
    """Issued by the product's CA or, during a CA rollover, by its second CA.

    The primary CA's refusal is the one shown when neither issued it: that is the CA
    the page names.
    """
    try:
        x509.verify_issued_by(certificate, primary, role)
    except x509.CertificateError:
        # The reverse one-to-one of lifecycle.SecondCA: products does not import lifecycle.
        second = getattr(product, "second_ca", None)
        if second is None:
            raise
        try:
            second_ca = x509.load_certificate(second.ca_certificate.certificate_pem.encode("ascii"))
            x509.verify_issued_by(certificate, second_ca, role)
        except x509.CertificateError:
            pass
        else:
            return
        raise


def _set_platform_certificate(
    device: Device, product: Product, credentials: DeviceCredentials, authority: platform.Authority
) -> None:
    _refuse_psk(credentials)
    if credentials.certificate_data:
        raise ServiceError(WRONG_AUTH_TYPE_CODE, CERTIFICATE_ON_PLATFORM_PRODUCT, DEVICE_CERTIFICATE_FIELD)
    now = timezone.now()
    common_name = f"{product.product_id}{device.name}"
    if credentials.csr_data:
        check(validators.validate_csr_size, len(credentials.csr_data), field=CSR_FIELD)
        try:
            public_key = issuance.load_csr(credentials.csr_data).public_key()
        except x509.CertificateError as error:
            raise ServiceError(INVALID_VALUE_CODE, error.message, CSR_FIELD) from None
        device.key_origin = Device.KeyOrigin.CSR
    else:
        key = issuance.generate_private_key(product.device_key_algorithm)
        public_key = key.public_key()
        device.key_origin = Device.KeyOrigin.GENERATED
        device.private_key_pem = issuance.private_key_to_pem(key)
    certificate = issuance.issue_client_certificate(
        common_name, public_key, authority.certificate, authority.private_key, now, crl_url=authority.crl_url
    )
    _store_certificate(device, certificate)


def _store_certificate(device: Device, certificate) -> None:
    # Only what the device row keeps: describe_certificate's full description (names,
    # key type, extensions) would cost a third of a batch's time for nothing.
    device.certificate_pem = x509.to_pem(certificate)
    device.certificate_fingerprint = x509.fingerprint_sha256(certificate)
    device.certificate_serial_hex = x509.serial_hex(certificate.serial_number)
    device.certificate_not_after = certificate.not_valid_after_utc


def set_devices_enabled(*, product: Product, names: list[str], enabled: bool) -> int:
    devices = Device.objects.filter(product=product, name__in=names)
    with transaction.atomic():
        switched = list(devices.exclude(enabled=enabled).values_list("name", flat=True))
        changed = devices.update(enabled=enabled, last_updated=timezone.now())
        action = audit.Action.DEVICE_ENABLED if enabled else audit.Action.DEVICE_DISABLED
        audit.record_devices(action, product, switched)
        if not enabled:
            revoke_access(client_ids=[f"{product.product_id}{name}" for name in switched])
    return changed


def update_device_psk(*, device: Device, psk: str) -> None:
    """Give a Key device a new PSK (base64); the old one stops working."""
    if device.product.auth_method != Product.AuthMethod.KEY:
        raise ServiceError(PSK_ON_CERT_PRODUCT_CODE, PSK_ON_CERT_PRODUCT, PSK_FIELD)
    psk = psk.strip()
    check(validators.validate_psk, psk, field=PSK_FIELD)
    with transaction.atomic():
        device.psk, device.psk_updated = psk, timezone.now()
        device.save(update_fields=["psk", "psk_updated", "last_updated"])
        audit.record_devices(audit.Action.PSK_CHANGED, device.product, [device.name])
        revoke_access(client_ids=[device.client_id])


def delete_device(*, device: Device) -> None:
    with transaction.atomic():
        # Locked and read again: an online device leaves its product's online count too.
        online = (
            Device.objects.select_for_update().filter(pk=device.pk).values_list("online", flat=True).first()
        )
        deleted, _ = Device.objects.filter(pk=device.pk).delete()
        if deleted:
            count_devices(device.product, -1)
            if online:
                Product.objects.filter(pk=device.product_id, online_count__gt=0).update(
                    online_count=F("online_count") - 1
                )
            audit.record_devices(audit.Action.DEVICE_DELETED, device.product, [device.name])
            revoke_access(client_ids=[device.client_id])


def take_private_key(*, device: Device, in_bundle: bool = False) -> str:
    """The generated private key, handed out once; afterwards it is erased."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if not locked.has_generated_key:
            raise ServiceError(WRONG_AUTH_TYPE_CODE, NO_GENERATED_KEY)
        if locked.private_key_fetched or not locked.private_key_pem:
            raise ServiceError(KEY_ALREADY_FETCHED_CODE, KEY_ALREADY_FETCHED)
        key = locked.private_key_pem
        locked.private_key_pem = ""
        locked.private_key_fetched = True
        locked.save(update_fields=["private_key_pem", "private_key_fetched", "last_updated"])
        # A bundle that carries the key is one disclosure: its entry says the key went with it.
        if in_bundle:
            audit.record_devices(
                audit.Action.BUNDLE_DOWNLOADED, device.product, [device.name], audit.BUNDLE_WITH_KEY
            )
        else:
            audit.record_devices(audit.Action.PRIVATE_KEY_DOWNLOADED, device.product, [device.name])
    device.private_key_pem = ""
    device.private_key_fetched = True
    return key


def device_bundle(*, device: Device) -> tuple[str, bytes]:
    """The bundle's file name and bytes; a still-retrievable key goes in, once."""
    product = device.product
    certificate = product.uses_certificates
    private_key = ""
    if certificate and device.has_generated_key and device.private_key_retrievable:
        try:
            private_key = take_private_key(device=device, in_bundle=True)
        except ServiceError:
            # Another request took the key since `device` was read: bundle without it.
            private_key = ""
    data = bundles.build_device_bundle(
        bundles.DeviceBundleInput(
            product_id=product.product_id,
            device_name=device.name,
            auth_mode="CERT" if certificate else "KEY",
            mqtt_host=settings.IOTHUB_MQTT_HOST,
            # Key devices sign in on the listener that asks for no client certificate.
            mqtt_port=settings.IOTHUB_MQTT_PORT if certificate else settings.IOTHUB_MQTT_KEY_PORT,
            certificate_pem=device.certificate_pem,
            private_key_pem=private_key,
            device_ca_pem=selectors.product_device_ca_pem(product) if certificate else "",
            root_ca_pem=platform.root_ca().certificate_pem,
            psk=device.psk,
            key_expiry=int(timezone.now().timestamp()) + bundles.BUNDLE_CREDENTIALS_SECONDS,
        )
    )
    if not private_key:
        detail = audit.BUNDLE_WITH_PSK if device.psk else audit.BUNDLE_WITHOUT_KEY
        audit.record_devices(audit.Action.BUNDLE_DOWNLOADED, product, [device.name], detail=detail)
    return bundles.bundle_filename(product.product_id, device.name), data
