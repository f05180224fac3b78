"""The lifecycle cards that the device, product and CA pages include: `{% device_certificate device %}`."""

from __future__ import annotations

from django import template

from certificates.models import CACertificate
from products import platform
from products.models import Device, PlatformCA, Product

from .. import services
from ..forms import RenewalBatchForm, RevokeForm, SecondCAForm

register = template.Library()


@register.inclusion_tag("lifecycle/includes/device_certificate.html", takes_context=True)
def device_certificate(context: template.Context, device: Device) -> dict:
    """The device's certificate state (Valid, Revoked, renewing) with Revoke and Renew."""
    return {
        "csrf_token": context.get("csrf_token"),
        "device": device,
        "product": device.product,
        "revocation": services.revocation_of(device),
        "previous": services.previous_certificate(device),
        "revoke_form": RevokeForm(),
    }


@register.inclusion_tag("lifecycle/includes/product_certificates.html", takes_context=True)
def product_certificates(context: template.Context, product: Product) -> dict:
    """Product Settings' CRL download and second CA (for a CA rollover)."""
    held = None
    if product.ca_certificate is not None:
        held = services.uploaded_crl(product.ca_certificate)
    return {
        "csrf_token": context.get("csrf_token"),
        "product": product,
        "held_crl": held,
        "platform_crl_url": platform.crl_url(PlatformCA.Kind.DEVICE),
        "second_ca": services.second_ca(product),
        "renewal_form": RenewalBatchForm() if product.uses_platform_ca else None,
        "second_ca_form": SecondCAForm(product=product) if product.ca_certificate_id else None,
    }


@register.inclusion_tag("lifecycle/includes/ca_crl.html")
def ca_crl(ca_certificate: CACertificate) -> dict:
    """The CA page's CRL card: the held CRL, Upload CRL and its download."""
    return {"ca_certificate": ca_certificate, "held": services.uploaded_crl(ca_certificate)}
