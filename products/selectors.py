"""Products' and devices' reads, one function each, for the console, the API and batches.

A lookup by a name or ID the user typed answers "not found" for text that no
product or device can have (control characters: PostgreSQL refuses NUL in a query).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from certificates.models import expiry_status
from iothub_console.errors import NotFound
from iothub_console.paging import id_key
from iothub_console.validators import has_control_characters

from . import platform
from .models import Device, Product

PRODUCT_NOT_EXIST_CODE = "ResourceNotFound.ProductNotExist"
DEVICE_NOT_EXIST_CODE = "ResourceNotFound.DeviceNotExist"
PRODUCT_NOT_FOUND = 'There is no product with the ID "{product_id}".'
DEVICE_NOT_FOUND = 'There is no device named "{name}" in this product.'

SEARCH_COUNT_LIMIT = 1000
DEVICE_LIST_FIELDS = ("id", "name", "enabled", "activated_at", "online", "certificate_not_after", "created")


# Products ------------------------------------------------------------------


def products_for(owner: User, query: str = "") -> QuerySet[Product]:
    """The account's products, newest first; `query` matches a name part or the exact Product ID."""
    products = (
        Product.objects.filter(owner=owner).select_related("ca_certificate").order_by("-created", "-id")
    )
    if query:
        products = products.filter(Q(name__icontains=query) | Q(product_id__iexact=query))
    return products


def products_oldest_first(owner: User) -> QuerySet[Product]:
    """The account's products in the order the API pages through them."""
    return Product.objects.filter(owner=owner).select_related("ca_certificate").order_by("created", "id")


def get_product(*, owner: User, product_id: str, with_ca: bool = True) -> Product:
    """The account's product with that ID.

    `with_ca=False` leaves the CA to be read only if a page needs it: the Devices
    tab shows it in its empty state alone, and joining it cost a tenth of the page.
    """
    if not has_control_characters(product_id):
        products = Product.objects.select_related("ca_certificate") if with_ca else Product.objects
        product = products.filter(owner=owner, product_id=product_id).first()
        if product is not None:
            return product
    raise NotFound(PRODUCT_NOT_EXIST_CODE, PRODUCT_NOT_FOUND.format(product_id=product_id))


def product_device_ca_pem(product: Product) -> str:
    """The CA that product's device certificates chain to (Download CA Certificate)."""
    if product.ca_certificate is not None:
        return product.ca_certificate.certificate_pem
    return platform.device_ca().certificate_pem


# Devices -------------------------------------------------------------------


def get_device(*, product: Product, name: str) -> Device:
    if not has_control_characters(name):
        device = Device.objects.filter(product=product, name=name).first()
        if device is not None:
            device.product = product
            return device
    raise NotFound(DEVICE_NOT_EXIST_CODE, DEVICE_NOT_FOUND.format(name=name))


def devices_oldest_first(product: Product) -> QuerySet[Device]:
    """A product's devices in the order the API pages through them (by id: the index's order)."""
    return Device.objects.filter(product=product).order_by("id")


def existing_device_names(product: Product, names: list[str]) -> set[str]:
    """Which of `names` the product already has a device by."""
    return set(Device.objects.filter(product=product, name__in=names).values_list("name", flat=True))


@dataclass(frozen=True)
class DevicePage:
    """One page of a product's devices, found by key rather than by offset.

    The list is newest first (by id); a search is by name. `next_after` and
    `previous_before` are the keys at the page's edges: every page, however deep,
    is one index range of at most `size` + 1 rows, never a scan past the rows
    before it.
    """

    devices: list[dict]  # DEVICE_LIST_FIELDS, plus expiry_status
    total: int
    total_is_lower_bound: bool
    next_after: str | None
    previous_before: str | None  # None on the first page, as next_after is on the last


def _name_key(value: str | None) -> str | None:
    """A search page's key: a device name; text no name can hold means the first page."""
    return None if value is None or has_control_characters(value) else value


def device_page(
    *,
    product: Product,
    size: int,
    query: str = "",
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
) -> DevicePage:
    # Plain rows, not model instances: a page is read-only, and building 20 models
    # with deferred fields cost more than the index search that found them.
    devices = Device.objects.filter(product=product).values(*DEVICE_LIST_FIELDS)
    after_key: str | int | None
    before_key: str | int | None
    if query:
        # A name prefix is a range on the unique (product, name) index, which also
        # gives the order: no scan or sort, whatever the fleet's size.
        key, forward = "name", "name"
        after_key, before_key = _name_key(after), _name_key(before)
        devices = devices.filter(name__gte=query, name__lt=query + "\U0010ffff")
        counted = devices.order_by()[: SEARCH_COUNT_LIMIT + 1].count()
        total, lower_bound = min(counted, SEARCH_COUNT_LIMIT), counted > SEARCH_COUNT_LIMIT
    else:
        key, forward = "id", "-id"
        total, lower_bound = product.device_count, False
        after_key, before_key = id_key(after), id_key(before)
    backward = forward[1:] if forward.startswith("-") else f"-{forward}"
    beyond = "lt" if forward.startswith("-") else "gt"
    behind = "gt" if beyond == "lt" else "lt"
    if before_key is not None:
        rows = list(devices.filter(**{f"{key}__{behind}": before_key}).order_by(backward)[: size + 1])
        more_before, rows, more_after = len(rows) > size, rows[:size][::-1], True
    elif last:
        rows = list(devices.order_by(backward)[:size])[::-1]
        more_before, more_after = total > len(rows) or lower_bound, False
    else:
        if after_key is not None:
            devices = devices.filter(**{f"{key}__{beyond}": after_key})
        rows = list(devices.order_by(forward)[: size + 1])
        more_after, rows, more_before = len(rows) > size, rows[:size], after_key is not None
    now = timezone.now()
    for device in rows:
        device["expiry_status"] = expiry_status(device["certificate_not_after"], now)
    return DevicePage(
        devices=rows,
        total=total,
        total_is_lower_bound=lower_bound,
        next_after=str(rows[-1][key]) if rows and more_after else None,
        previous_before=str(rows[0][key]) if rows and more_before else None,
    )
