"""Control characters (NUL above all) never reach the database through Certificate Management.

PostgreSQL cannot store NUL in text at all: without these checks each case below was a
500 there (`./scripts/with-postgres` runs this file on PostgreSQL too).
"""

from __future__ import annotations

import pytest
from cryptography import x509 as cx509
from cryptography.x509.oid import NameOID

from certificates import selectors, services, validators
from certificates.models import CACertificate
from iothub_console.errors import NotFound
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add,
    post_add_proven,
    upload,
)

pytestmark = pytest.mark.django_db


def ca_named(common_name: str) -> pki.Issued:
    return pki.make_ca(subject=cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, common_name)]))


@pytest.mark.parametrize("common_name", ["Evil\x00CA", "Bell\x07CA", "C1\x85CA"])
def test_a_ca_whose_common_name_holds_a_control_character_is_refused(signed_in_client, user, common_name):
    code = current_code(user)

    response = post_add_proven(signed_in_client, user, ca_named(common_name))

    assert_field_error(response, "ca_certificate", validators.NAME_HAS_CONTROL_CHARACTERS)
    assert not CACertificate.objects.exists()
    assert_code_unused(user, code)


def test_a_verification_certificate_whose_common_name_holds_nul_matches_no_code(signed_in_client, user):
    ca = pki.make_ca("Good Root CA")
    code = current_code(user)
    verification = pki.make_verification(f"{code[:-1]}\x00", ca)

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("verificationCert.crt", verification.pem),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["verification_certificate"]
    assert len(errors) == 1
    assert errors[0].startswith(
        "The verification certificate's Common Name must be your current authentication code"
    )
    assert not CACertificate.objects.exists()
    assert_code_unused(user, code)


@pytest.mark.parametrize("name", ["my\x00ca", "my\x1bca"])
def test_a_ca_name_with_a_control_character_is_refused(signed_in_client, user, name):
    response = post_add_proven(signed_in_client, user, pki.make_ca("Named Root CA"), name=name)

    assert_field_error(response, "name", validators.INVALID_CA_NAME)
    assert not CACertificate.objects.exists()


def test_looking_up_a_ca_by_a_name_with_nul_finds_none(user):
    services.register_ca_certificate(
        owner=user,
        name="my_root_ca",
        certificate_data=pki.make_ca("Lookup Root CA").pem,
        verification_data=pki.make_verification(current_code(user), pki.make_ca("Lookup Root CA")).pem,
    )

    with pytest.raises(NotFound) as refused:
        selectors.get_ca_certificate_by_name(owner=user, name="my_root_ca\x00")

    assert refused.value.code == "ResourceNotFound.CACertNotExist"
    assert refused.value.message == selectors.CA_NOT_FOUND.format(name="my_root_ca\x00")
    assert CACertificate.objects.get().name == "my_root_ca"
