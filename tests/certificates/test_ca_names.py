"""CA Certificate Name: 1-32 letters, digits, _, - and @, unique within the account."""

from __future__ import annotations

import pytest

from certificates import services, validators
from certificates.models import CACertificate
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add_proven,
    register,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 33, id="33-characters"),
        pytest.param("my root ca", id="space"),
        pytest.param("café", id="non-ascii-letter"),
        pytest.param("根证书", id="chinese"),
        pytest.param("ca.root", id="dot"),
        pytest.param(" my_root_ca", id="leading-space"),
        pytest.param("my_root_ca\n", id="trailing-newline"),
    ],
)
def test_refuses_invalid_name(signed_in_client, user, name):
    code = current_code(user)

    response = post_add_proven(signed_in_client, user, pki.make_ca(), name=name)

    assert_field_error(response, "name", validators.INVALID_CA_NAME)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_empty_name(signed_in_client, user):
    code = current_code(user)

    response = post_add_proven(signed_in_client, user, pki.make_ca(), name="")

    assert_field_error(response, "name", "This field is required.")
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_name_already_taken_in_account(signed_in_client, user):
    register(user, pki.make_ca("First CA", key=pki.ec_key()), "my_root_ca")
    code = current_code(user)

    response = post_add_proven(
        signed_in_client, user, pki.make_ca("Second CA", key=pki.ec_key()), name="my_root_ca"
    )

    assert_field_error(response, "name", services.NAME_TAKEN.format(name="my_root_ca"))
    assert CACertificate.objects.get(owner=user).common_name == "First CA"
    assert_code_unused(user, code)


def test_accepts_name_another_account_uses(signed_in_client, user, other_user):
    register(other_user, pki.make_ca("Their CA", key=pki.ec_key()), "my_root_ca")

    response = post_add_proven(
        signed_in_client, user, pki.make_ca("My CA", key=pki.ec_key()), name="my_root_ca"
    )

    assert response.status_code == 302
    assert CACertificate.objects.filter(name="my_root_ca").count() == 2
    assert CACertificate.objects.get(owner=user).common_name == "My CA"


def test_service_refuses_invalid_name_with_tencent_code(user):
    with pytest.raises(services.ServiceError) as refused:
        register(user, pki.make_ca(), "café")

    assert refused.value.code == validators.INVALID_VALUE_CODE
    assert refused.value.message == validators.INVALID_CA_NAME
    assert refused.value.field == "name"
    assert CACertificate.objects.count() == 0
