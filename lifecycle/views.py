"""Revoke and renew a device's certificate, CRLs, and a product's second CA."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from certificates import selectors as certificate_selectors
from certificates.views import get_ca_certificate
from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.errors import ServiceError, add_to_form
from iothub_console.selectors import found_or_404
from products.models import PlatformCA
from products.views import get_device, get_product

from . import platform_crl, renewal_batches, services
from .forms import CRLUploadForm, RenewalBatchForm, RenewForm, RevokeForm, SecondCAForm

CRL_CONTENT_TYPE = "application/pkix-crl"
# Verifiers may cache a CRL for a minute: a revocation reaches them soon after.
CRL_MAX_AGE = 60

CRL_NOT_HELD = 'No CRL was uploaded for "{name}" yet. Upload the CA\'s CRL on its page to offer it here.'
NO_CRL_FOR_KEY_PRODUCT = "This product authenticates devices with keys; it has no CA and no CRL."


def _crl_response(der: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(der, content_type=CRL_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Public ------------------------------------------------------------------------------


@login_not_required
@require_safe
def platform_crl_file(request: HttpRequest, kind: str) -> HttpResponse:
    """A Platform CA's CRL (DER), at the URL its certificates name; no sign-in, as verifiers fetch it."""
    if kind not in platform_crl.KINDS:
        raise Http404
    row = services.platform_crl_to_serve(kind)
    response = HttpResponse(bytes(row.der), content_type=CRL_CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={CRL_MAX_AGE}"
    return response


# Devices -----------------------------------------------------------------------------


@require_POST
def device_revoke(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, services.UNKNOWN_REASON)
        return redirect(device)
    try:
        revocation = services.revoke_certificate(device=device, reason=form.cleaned_data["reason"])
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f'The certificate of "{device.name}" (serial {revocation.serial_hex}) was revoked '
            f"({revocation.get_reason_display().lower()}); the device was disconnected.",
        )
    return redirect(device)


def device_renew(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    product = device.product
    if not product.uses_certificates:
        messages.error(request, services.NO_CERTIFICATE)
        return redirect(device)
    second = services.second_ca(product)
    form = RenewForm(
        request.POST or None,
        request.FILES or None,
        product=product,
        second_ca_name=second.name if second else "",
    )
    if request.method == "POST" and form.is_valid():
        try:
            renewed = services.renew_certificate(device=device, credentials=form.credentials())
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(
                request,
                f'"{renewed.name}" has a new certificate (serial {renewed.certificate_serial_hex}). '
                f"The old one keeps working until the device connects with the new one, "
                f"or for {services.RENEWAL_OVERLAP.days} days.",
            )
            return redirect(renewed)
    return render(
        request, "lifecycle/device_renew.html", {"form": form, "device": device, "product": product}
    )


# Products ----------------------------------------------------------------------------


@require_safe
def product_crl_download(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    """Download CRL: the Platform device CA's for Platform-CA products, else the uploaded one."""
    product = get_product(request, product_id)
    if not product.uses_certificates:
        messages.error(request, NO_CRL_FOR_KEY_PRODUCT)
        return redirect(product)
    if product.uses_platform_ca:
        row = services.platform_crl_to_serve(PlatformCA.Kind.DEVICE)
        return _crl_response(bytes(row.der), "platform-device-ca.crl")
    ca_certificate = product.ca_certificate
    assert ca_certificate is not None  # a Certificate product without the Platform CA has one
    held = services.uploaded_crl(ca_certificate)
    if held is None:
        messages.error(request, CRL_NOT_HELD.format(name=ca_certificate.name))
        return redirect(product)
    return _crl_response(bytes(held.der), f"{ca_certificate.name}.crl")


@require_POST
def product_renewal_batch(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    """Renew Expiring Certificates: a background batch; its page shows progress and the results ZIP."""
    product = get_product(request, product_id)
    form = RenewalBatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, renewal_batches.DAYS_OUT_OF_RANGE)
        return redirect(product)
    try:
        batch = renewal_batches.start_renewal_batch(
            owner=request.user, product=product, days=form.cleaned_data["days"]
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(product)
    messages.success(request, f"Renewing {batch.total:,} certificate(s) in the background.")
    return redirect(batch)


@require_POST
def product_second_ca(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    form = SecondCAForm(request.POST, product=product)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["ca_certificate"]))
        return redirect(product)
    ca = found_or_404(
        certificate_selectors.get_ca_certificate_by_name,
        owner=request.user,
        name=form.cleaned_data["ca_certificate"],
    )
    try:
        services.set_second_ca(product=product, ca_certificate=ca)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f'"{ca.name}" is now the second CA of "{product.name}": devices of either CA can connect.',
        )
    return redirect(product)


@require_POST
def product_second_ca_promote(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    try:
        ca = services.promote_second_ca(product=product)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f'"{ca.name}" now issues the device certificates of "{product.name}"; '
            "the CA it replaces stays trusted as the second CA until you remove it.",
        )
    return redirect(product)


@require_POST
def product_second_ca_remove(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = get_product(request, product_id)
    try:
        services.remove_second_ca(product=product)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f'"{product.name}" has no second CA now; devices it issued were disconnected.'
        )
    return redirect(product)


# CA certificates ---------------------------------------------------------------------


def ca_crl_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    form = CRLUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            stored, revoked = services.upload_crl(
                ca_certificate=ca_certificate, data=form.cleaned_data["crl_file"]
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(
                request,
                f"The CRL was stored ({stored.revoked_count:,} revoked serial(s)); "
                f"{len(revoked):,} device(s) were cut off.",
            )
            return redirect(ca_certificate)
    return render(
        request,
        "lifecycle/ca_crl_upload.html",
        {"form": form, "ca_certificate": ca_certificate, "held": services.uploaded_crl(ca_certificate)},
    )


@require_safe
def ca_crl_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    held = services.uploaded_crl(ca_certificate)
    if held is None:
        messages.error(request, CRL_NOT_HELD.format(name=ca_certificate.name))
        return redirect(ca_certificate)
    return _crl_response(bytes(held.der), f"{ca_certificate.name}.crl")
