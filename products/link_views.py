"""The device page's link to the broker: its status poll, Generate Credentials, Publish Message."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from broker import publishing
from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.errors import ServiceError

from . import bundles, link_status
from .link_forms import GenerateCredentialsForm, PublishMessageForm
from .views import get_device

CREDENTIALS_FOR_KEY_DEVICES = (
    "This device authenticates with a certificate; the broker checks the certificate, not a password."
)
MESSAGE_PUBLISHED = 'Message published to "{topic}" (QoS {qos}).'


@require_safe
def device_status(request: AuthenticatedHttpRequest, product_id: str, name: str) -> JsonResponse:
    """The device page polls this to show connects and disconnects without a reload."""
    response = JsonResponse(link_status.status_fields(get_device(request, product_id, name)))
    response["Cache-Control"] = "no-store"
    return response


def device_credentials(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    if device.product.uses_certificates:
        messages.error(request, CREDENTIALS_FOR_KEY_DEVICES)
        return redirect(device)
    form = GenerateCredentialsForm(request.POST or None)
    credentials = None
    if request.method == "POST" and form.is_valid():
        credentials = bundles.key_credentials(
            device.client_id,
            device.psk,
            int(form.cleaned_data["valid_until"].timestamp()),
            algorithm=form.cleaned_data["algorithm"],
        )
    response = render(
        request,
        "products/device_credentials.html",
        {
            "device": device,
            "product": device.product,
            "form": form,
            "credentials": credentials,
            "mqtt_host": settings.IOTHUB_MQTT_HOST,
            "mqtt_port": link_status.mqtt_port(device),
        },
    )
    response["Cache-Control"] = "no-store"  # the password is a secret
    return response


@require_POST
def device_publish(request: AuthenticatedHttpRequest, product_id: str, name: str) -> HttpResponse:
    device = get_device(request, product_id, name)
    form = PublishMessageForm(request.POST, topic_prefix=publishing.topic_prefix(device))
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form.fields[field].label}: {error}")
        return redirect(device)
    data = form.cleaned_data
    try:
        publishing.publish_message(
            device=device, topic=data["topic"], payload=data["payload"].encode("utf-8"), qos=data["qos"]
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, MESSAGE_PUBLISHED.format(topic=data["topic"], qos=data["qos"]))
    return redirect(device)
