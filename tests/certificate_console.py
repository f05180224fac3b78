"""Shared steps for the Certificate Management view tests: uploads, posts, assertions."""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from certificates import services
from certificates.models import AuthenticationCode, CACertificate

from . import pki

ADD_URL = "/certificates/add/"
LIST_URL = "/certificates/"


def upload(filename: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(filename, data, content_type="application/octet-stream")


def current_code(owner: AbstractBaseUser) -> str:
    return services.current_authentication_code(owner=owner).code


def post_add(
    client: Client,
    *,
    name: str = "my_root_ca",
    ca_file: SimpleUploadedFile,
    verification_file: SimpleUploadedFile,
) -> HttpResponse:
    """Submit the Add Certificate form as a browser would."""
    return client.post(
        ADD_URL,
        {"name": name, "ca_certificate": ca_file, "verification_certificate": verification_file},
    )


def post_add_proven(
    client: Client, owner: AbstractBaseUser, ca: pki.Issued, *, name: str = "my_root_ca"
) -> HttpResponse:
    """Add `ca` with a valid verification certificate for the account's current code."""
    verification = pki.make_verification(current_code(owner), ca)
    return post_add(
        client,
        name=name,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("verificationCert.crt", verification.pem),
    )


def register(owner: AbstractBaseUser, ca: pki.Issued, name: str) -> CACertificate:
    """Register `ca` straight through the service, with a fresh proof of possession."""
    verification = pki.make_verification(current_code(owner), ca)
    return services.register_ca_certificate(
        owner=owner, name=name, certificate_data=ca.pem, verification_data=verification.pem
    )


def update_url(ca_certificate: CACertificate) -> str:
    return reverse("certificates:ca_update", args=[ca_certificate.pk])


def assert_field_error(response: HttpResponse, field: str | None, message: str) -> None:
    """The form came back (200) with exactly `message` on `field` (None: the alert above the form)."""
    assert response.status_code == 200
    form = response.context["form"]
    content = response.content.decode()
    if field is None:
        assert form.non_field_errors() == [message]
        alert = content.split('<div class="alert alert-danger py-2" role="alert">', 1)[1]
        assert escape(message) in alert.split("</div>\n</div>", 1)[0]
    else:
        assert form.errors[field] == [message]
        # crispy puts a field's error beside it, in its invalid-feedback element
        assert re.search(
            rf'id="error_1_id_{field}"[^>]*>\s*<strong>{re.escape(escape(message))}</strong>', content
        ), f"the page does not show the error beside {field}"


def assert_code_unused(owner: AbstractBaseUser, code: str) -> None:
    """The code was not consumed: it is still the one the Add page shows."""
    stored = AuthenticationCode.objects.get(owner=owner, code=code)
    assert stored.used_at is None
    assert current_code(owner) == code
