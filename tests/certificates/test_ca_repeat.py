"""The same CA certificate cannot be registered twice in one account (LimitExceeded.CARepeat)."""

from __future__ import annotations

import pytest

from certificates import services
from certificates.models import CACertificate
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add,
    post_add_proven,
    register,
    upload,
)

pytestmark = pytest.mark.django_db


def test_refuses_same_ca_twice(signed_in_client, user):
    ca = pki.make_ca()
    assert post_add_proven(signed_in_client, user, ca, name="first").status_code == 302
    code = current_code(user)

    response = post_add_proven(signed_in_client, user, ca, name="second")

    assert_field_error(response, "ca_certificate", services.ALREADY_REGISTERED.format(name="first"))
    assert list(CACertificate.objects.values_list("name", flat=True)) == ["first"]
    assert_code_unused(user, code)


def test_refuses_same_ca_twice_in_der(signed_in_client, user):
    ca = pki.make_ca()
    register(user, ca, "first")
    code = current_code(user)

    response = post_add(
        signed_in_client,
        name="second",
        ca_file=upload("ca.cer", ca.der),
        verification_file=upload("v.pem", pki.make_verification(code, ca).pem),
    )

    assert_field_error(response, "ca_certificate", services.ALREADY_REGISTERED.format(name="first"))
    assert CACertificate.objects.count() == 1
    assert_code_unused(user, code)


def test_service_gives_carepeat_code(user):
    ca = pki.make_ca()
    register(user, ca, "first")

    with pytest.raises(services.ServiceError) as refused:
        register(user, ca, "second")

    assert refused.value.code == services.CA_REPEAT_CODE == "LimitExceeded.CARepeat"
    assert CACertificate.objects.count() == 1


def test_accepts_ca_another_account_registered(signed_in_client, user, other_user):
    ca = pki.make_ca()
    register(other_user, ca, "theirs")

    response = post_add_proven(signed_in_client, user, ca, name="mine")

    assert response.status_code == 302
    assert CACertificate.objects.get(owner=user).name == "mine"
    assert CACertificate.objects.count() == 2
