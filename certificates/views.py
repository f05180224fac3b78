from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.errors import ServiceError, add_to_form
from iothub_console.http import redirect_to_next
from iothub_console.selectors import found_or_404

from . import selectors, services
from .forms import CACertificateForm, ProofOfPossessionForm
from .models import CACertificate


def get_ca_certificate(request: AuthenticatedHttpRequest, pk: int) -> CACertificate:
    """The signed-in account's CA certificate, or 404 (also for other accounts' CAs)."""
    return found_or_404(selectors.get_ca_certificate, owner=request.user, pk=pk)


def ca_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    ca_certificates = selectors.ca_certificates_for(request.user)
    return render(
        request,
        "certificates/cacertificate_list.html",
        {"ca_certificates": ca_certificates, "ca_limit": settings.IOTHUB_CA_LIMIT},
    )


def ca_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    code = services.current_authentication_code(owner=request.user)
    form = CACertificateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            ca_certificate = services.register_ca_certificate(
                owner=request.user,
                name=form.cleaned_data["name"],
                certificate_data=form.cleaned_data["ca_certificate"],
                verification_data=form.cleaned_data["verification_certificate"],
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(request, f'CA certificate "{ca_certificate.name}" was added.')
            return redirect("certificates:ca_list")
    return render(
        request,
        "certificates/cacertificate_add.html",
        {"form": form, "authentication_code": code},
    )


def ca_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    return render(
        request,
        "certificates/cacertificate_detail.html",
        {
            "ca_certificate": ca_certificate,
            "bound_products": selectors.bound_products(ca_certificate),
        },
    )


def ca_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    response = HttpResponse(ca_certificate.certificate_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{ca_certificate.name}.crt"'
    return response


def ca_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    code = services.current_authentication_code(owner=request.user)
    form = ProofOfPossessionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_ca_certificate(
                ca_certificate=ca_certificate,
                certificate_data=form.cleaned_data["ca_certificate"],
                verification_data=form.cleaned_data["verification_certificate"],
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(request, f'CA certificate "{ca_certificate.name}" was updated.')
            return redirect(ca_certificate)
    return render(
        request,
        "certificates/cacertificate_update.html",
        {"form": form, "authentication_code": code, "ca_certificate": ca_certificate},
    )


@require_POST
def ca_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ca_certificate = get_ca_certificate(request, pk)
    try:
        services.delete_ca_certificate(ca_certificate=ca_certificate)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect(ca_certificate)
    messages.success(request, f'CA certificate "{ca_certificate.name}" was deleted.')
    return redirect("certificates:ca_list")


@require_POST
def code_regenerate(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.regenerate_authentication_code(owner=request.user)
    messages.info(request, "A new authentication code was generated; the previous one no longer works.")
    return redirect_to_next(request, "certificates:ca_add")
