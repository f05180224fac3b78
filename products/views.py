from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from certificates import selectors as certificate_selectors
from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.errors import ServiceError, add_to_form
from iothub_console.http import is_consuming_get, redirect_to_next, secret_withheld
from iothub_console.selectors import found_or_404
from iothub_console.templatetags.console import utc
from iothub_console.validators import CONTROL_CHARACTERS_REFUSED, has_control_characters

from . import link_status, selectors, services
from .forms import DeviceForm, ProductForm
from .link_forms import PublishMessageForm
from .models import PLATFORM_CA_NAME, Device, Product


def get_product(request: AuthenticatedHttpRequest, product_id: str, with_ca: bool = True) -> Product:
    """The signed-in account's product, or 404 (also for other accounts' products)."""
    return found_or_404(selectors.get_product, owner=request.user, product_id=product_id, with_ca=with_ca)


def get_device(request: AuthenticatedHttpRequest, product_id: str, name: str) -> Device:
    product = get_product(request, product_id)
    return found_or_404(selectors.get_device, product=product, name=name)


def search_query(request: AuthenticatedHttpRequest) -> str:
    """The `?q=` search text; text with control characters searches nothing and says why."""
    query = request.GET.get("q", "").strip()
    if has_control_characters(query):
        messages.error(request, CONTROL_CHARACTERS_REFUSED)
        return ""
    return query


def _attachment(content: str | bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# Products ------------------------------------------------------------------


def product_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = search_query(request)
    products = selectors.products_for(request.user, query)
    page = Paginator(products, 20).get_page(request.GET.get("page"))
    return render(request, "products/product_list.html", {"page": page, "query": query})


def product_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ca = None
        try:
            if (
                data["auth_method"] == Product.AuthMethod.CERTIFICATE
                and data["ca_certificate"] != PLATFORM_CA_NAME
            ):
                ca = certificate_selectors.get_ca_certificate_by_name(
                    owner=request.user, name=data["ca_certificate"]
                )
            product = services.create_product(
                owner=request.user,
                name=data["name"],
                auth_method=data["auth_method"],
                ca_certificate=ca,
                data_format=data["data_format"],
                description=data["description"],
                product_type=data["product_type"],
                device_key_algorithm=data["device_key_algorithm"],
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(
                request, f'Product "{product.name}" was created with Product ID {product.product_id}.'
            )
            return redirect(product)
    has_cas = certificate_selectors.has_ca_certificates(request.user)
    return render(
        request,
        "products/product_create.html",
        {"form": form, "has_cas": has_cas, "platform_ca_name": PLATFORM_CA_NAME},
    )


def product_detail(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    return render(
        request,
        "products/product_detail.html",
        {"product": product, "device_count": product.device_count, "tab": "settings"},
    )


def product_devices(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id, with_ca=False)
    query = search_query(request)
    page = selectors.device_page(
        product=product,
        size=settings.IOTHUB_DEVICES_PER_PAGE,
        query=query,
        after=request.GET.get("after") or None,
        before=request.GET.get("before") or None,
        last="last" in request.GET,
    )
    return render(
        request,
        "products/product_devices.html",
        {
            "product": product,
            "page": page,
            "rows": [_list_row(device) for device in page.devices],
            "query": query,
            "tab": "devices",
            # Device names are URL-safe ([A-Za-z0-9_:-]), so a prefix + name is the reversed URL.
            "device_url_prefix": reverse("products:device_detail", args=[product.product_id, "-"])[:-2],
        },
    )


EXPIRY_BADGES = {"expired": ("Expired", "text-bg-danger"), "expiring": ("Expiring", "badge-expiring")}


def _list_row(device: dict) -> dict:
    """What one row of the Devices table shows, worked out in Python.

    The page's cost is its 20 rows; each template `if` and filter is a node to
    evaluate, so the row template only prints values.
    """
    expiry_label, expiry_class = EXPIRY_BADGES.get(device["expiry_status"], ("", ""))
    if device["activated_at"] is None:
        link_label, link_class = "Not activated", "text-bg-light border"
    else:
        link_label, link_class = (
            ("Online", "text-bg-success") if device["online"] else ("Offline", "text-bg-secondary")
        )
    not_after = device["certificate_not_after"]
    return {
        "name": device["name"],
        "enabled_label": "Enabled" if device["enabled"] else "Disabled",
        "enabled_class": "text-bg-success" if device["enabled"] else "text-bg-danger",
        "link_label": link_label,
        "link_class": link_class,
        "expires": f"{utc(not_after, 'day')} UTC" if not_after else "—",
        "expiry_label": expiry_label,
        "expiry_class": expiry_class,
        "created": f"{utc(device['created'])} UTC",
        "toggle_field": "disable" if device["enabled"] else "enable",
        "toggle_label": "Disable" if device["enabled"] else "Enable",
    }


@require_POST
def product_delete(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    try:
        services.delete_product(product=product)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(product)
    messages.success(request, f'Product "{product.name}" was deleted.')
    return redirect("products:product_list")


@require_POST
def product_forbid(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    forbidden = request.POST.get("forbidden") == "1"
    services.set_products_forbidden(products=[product], forbidden=forbidden)
    messages.success(request, f'Product "{product.name}" is now {"forbidden" if forbidden else "enabled"}.')
    return redirect(product)


def product_ca_download(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    if not product.uses_certificates:
        messages.error(request, "This product authenticates devices with keys; it has no CA certificate.")
        return redirect(product)
    return _attachment(
        selectors.product_device_ca_pem(product),
        f"{product.product_id}_device-ca.crt",
        "application/x-pem-file",
    )


# Devices -------------------------------------------------------------------


def device_add(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    form = DeviceForm(request.POST or None, request.FILES or None, product=product)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.create_device(
                product=product, name=form.cleaned_data["name"], credentials=form.credentials()
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(request, f'Device "{device.name}" was added.')
            return redirect(device)
    return render(request, "products/device_add.html", {"form": form, "product": product})


def device_detail(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    topic_prefix = f"{device.product.product_id}/{device.name}/"
    return render(
        request,
        "products/device_detail.html",
        {
            "device": device,
            "product": device.product,
            "link": link_status.status_fields(device),
            "mqtt_host": settings.IOTHUB_MQTT_HOST,
            "mqtt_port": link_status.mqtt_port(device),
            "username": link_status.username_form(device),
            "topic_prefix": topic_prefix,
            "publish_form": PublishMessageForm(topic_prefix=topic_prefix),
        },
    )


@require_POST
def device_enable(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    enabled = request.POST.get("enabled") == "1"
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=enabled)
    messages.success(request, f'Device "{device.name}" is now {"enabled" if enabled else "disabled"}.')
    if request.POST.get("next") == "list":
        return redirect("products:product_devices", device.product.product_id)
    return redirect(device)


@require_POST
def devices_enable(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    """Enable or disable devices from the list: `enable=<name>` or `disable=<name>`, repeatable."""
    product = get_product(request, product_id)
    for field, enabled in (("enable", True), ("disable", False)):
        names = request.POST.getlist(field)
        if names:
            changed = services.set_devices_enabled(product=product, names=names, enabled=enabled)
            state = "enabled" if enabled else "disabled"
            if changed == 1:
                messages.success(request, f'Device "{names[0]}" is now {state}.')
            elif changed:
                messages.success(request, f"{changed} devices are now {state}.")
    return redirect_to_next(request, "products:product_devices", product.product_id)


@require_POST
def device_delete(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    services.delete_device(device=device)
    messages.success(request, f'Device "{device.name}" was deleted.')
    return redirect("products:product_devices", device.product.product_id)


def device_certificate_download(
    request: AuthenticatedHttpRequest, product_id: str, name: str
) -> HttpResponse:
    device = get_device(request, product_id, name)
    if not device.certificate_pem:
        messages.error(request, "This device authenticates with a key; it has no certificate.")
        return redirect(device)
    return _attachment(device.certificate_pem, f"{device.name}_cert.crt", "application/x-pem-file")


@require_safe
def device_private_key_download(
    request: AuthenticatedHttpRequest, product_id: str, name: str
) -> HttpResponse:
    device = get_device(request, product_id, name)
    if not is_consuming_get(request):
        return secret_withheld(request)
    try:
        key = services.take_private_key(device=device)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(device)
    return _attachment(key, f"{device.name}_private.key", "application/x-pem-file")


@require_safe
def device_bundle_download(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    if device.private_key_retrievable and not is_consuming_get(request):
        return secret_withheld(request)
    filename, data = services.device_bundle(device=device)
    return _attachment(data, filename, "application/zip")
