"""allows_client_auth: a device certificate must be usable for TLS client authentication."""

import pytest
from cryptography import x509 as cx509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from certificates import x509
from tests import pki


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca()


def test_allows_client_auth_without_extended_key_usage(ca):
    assert x509.allows_client_auth(pki.make_leaf("device-1", ca).certificate) is True


def test_allows_client_auth_with_client_auth_usage(ca):
    leaf = pki.make_leaf("device-1", ca, extended_key_usage=pki.CLIENT_AUTH)

    assert x509.allows_client_auth(leaf.certificate) is True


def test_allows_client_auth_with_server_and_client_auth_usage(ca):
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    leaf = pki.make_leaf("device-1", ca, extended_key_usage=usages)

    assert x509.allows_client_auth(leaf.certificate) is True


def test_allows_client_auth_with_any_extended_key_usage(ca):
    leaf = pki.make_leaf("device-1", ca, extended_key_usage=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])

    assert x509.allows_client_auth(leaf.certificate) is True


def test_refuses_client_auth_with_server_auth_only(ca):
    leaf = pki.make_leaf("device-1", ca, extended_key_usage=pki.SERVER_AUTH_ONLY)

    assert x509.allows_client_auth(leaf.certificate) is False


def test_refuses_client_auth_with_code_signing_only(ca):
    leaf = pki.make_leaf("device-1", ca, extended_key_usage=[ExtendedKeyUsageOID.CODE_SIGNING])

    assert x509.allows_client_auth(leaf.certificate) is False


def test_malformed_extended_key_usage_is_a_certificate_error(ca):
    garbage = cx509.UnrecognizedExtension(ExtensionOID.EXTENDED_KEY_USAGE, b"\x30\x03\x06")
    leaf = pki.make_certificate(pki.name("device-1"), issuer=ca, extensions=[garbage])

    with pytest.raises(x509.CertificateError) as caught:
        x509.allows_client_auth(leaf.certificate)

    assert caught.value.message == x509.MALFORMED_EXTENSIONS
