"""certificates.crl without a database: CRLs it builds, and the checks on CRLs customers upload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from certificates import crl
from certificates.x509 import PRIVATE_KEY_REFUSED, CertificateError

from .. import pki

NOW = datetime.now(UTC).replace(microsecond=0)


def signed_crl(ca: pki.Issued, *, number: int = 1, entries=(), this_update=None, next_update=None, key=None):
    return crl.build_crl(
        issuer=ca.certificate,
        issuer_key=key or ca.key,
        number=number,
        entries=entries,
        this_update=this_update or NOW - timedelta(hours=1),
        next_update=next_update or NOW + timedelta(days=7),
    )


def refusal(data: bytes, ca: pki.Issued) -> str:
    with pytest.raises(CertificateError) as raised:
        crl.verify_crl(data, ca.certificate, NOW)
    return raised.value.message


def test_built_crl_lists_serials_with_reasons_and_verifies_with_its_ca():
    ca = pki.make_ca("CRL Test CA")
    entries = [
        crl.RevokedEntry(serial=0x1234, revoked_at=NOW - timedelta(minutes=5), reason="keyCompromise"),
        crl.RevokedEntry(serial=0xABCDEF, revoked_at=NOW - timedelta(minutes=4), reason="superseded"),
        crl.RevokedEntry(serial=0x42, revoked_at=NOW - timedelta(minutes=3), reason="unspecified"),
    ]

    info = crl.verify_crl(signed_crl(ca, number=7, entries=entries), ca.certificate, NOW)

    assert info.number == 7
    assert info.revoked_serials == {"1234", "ABCDEF", "42"}
    assert {entry.serial_hex: entry.reason for entry in info.entries} == {
        "1234": "keyCompromise",
        "ABCDEF": "superseded",
        "42": "unspecified",
    }
    assert info.next_update == NOW + timedelta(days=7)


def test_pem_crl_is_read_like_der():
    ca = pki.make_ca("CRL Test CA")
    der = signed_crl(ca, entries=[crl.RevokedEntry(serial=5, revoked_at=NOW)])
    pem = cx509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)

    info = crl.verify_crl(pem.replace(b"\n", b"\r\n"), ca.certificate, NOW)

    assert info.revoked_serials == {"05"}
    assert info.der == der


def test_crl_signed_by_another_key_under_the_cas_name_is_forged():
    ca = pki.make_ca("CRL Test CA")
    impostor = pki.make_ca("CRL Test CA", key=pki.rsa_key(2048, slot=5))

    message = refusal(signed_crl(ca, key=impostor.key), ca)

    assert message == crl.CRL_BAD_SIGNATURE


def test_crl_of_another_ca_names_both_issuers():
    ca = pki.make_ca("CRL Test CA")
    other = pki.make_ca("Other CA", key=pki.rsa_key(2048, slot=5))

    message = refusal(signed_crl(other), ca)

    assert message == crl.CRL_WRONG_ISSUER.format(
        issuer=other.certificate.subject.rfc4514_string(), subject=ca.certificate.subject.rfc4514_string()
    )


def test_lapsed_crl_is_refused_with_its_next_update():
    ca = pki.make_ca("CRL Test CA")
    lapsed = NOW - timedelta(days=1)

    message = refusal(signed_crl(ca, this_update=NOW - timedelta(days=8), next_update=lapsed), ca)

    assert message == crl.CRL_EXPIRED.format(date=lapsed.strftime("%Y-%m-%d %H:%M UTC"))


def test_crl_from_the_future_is_refused():
    ca = pki.make_ca("CRL Test CA")
    later = NOW + timedelta(days=1)

    message = refusal(signed_crl(ca, this_update=later, next_update=later + timedelta(days=7)), ca)

    assert message == crl.CRL_NOT_YET_VALID.format(date=later.strftime("%Y-%m-%d %H:%M UTC"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", crl.EMPTY_CRL),
        (b"   \n", crl.EMPTY_CRL),
        (b"this is not a CRL", crl.NOT_A_CRL),
        (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", crl.NOT_A_CRL),
        (pki.make_ca("CRL Test CA").pem, crl.NOT_A_CRL),
        (pki.make_ca("CRL Test CA").key_pem, PRIVATE_KEY_REFUSED),
    ],
    ids=["empty", "blank", "text", "bad-pem", "a-certificate", "a-private-key"],
)
def test_unreadable_files_are_refused_with_what_to_do(data, message):
    assert refusal(data, pki.make_ca("CRL Test CA")) == message


def test_oversized_file_is_refused_before_parsing():
    data = b"0" * (crl.MAX_CRL_FILE_BYTES + 1)

    message = refusal(data, pki.make_ca("CRL Test CA"))

    assert message == crl.CRL_TOO_LARGE.format(size=len(data), limit=crl.MAX_CRL_FILE_BYTES)


def test_lower_crl_number_is_older_than_the_one_held():
    ca = pki.make_ca("CRL Test CA")
    info = crl.verify_crl(signed_crl(ca, number=3), ca.certificate, NOW)

    with pytest.raises(CertificateError) as raised:
        crl.check_not_older(info, held_number=4, held_this_update=NOW - timedelta(days=2))

    assert raised.value.message == crl.CRL_OLDER.format(new=3, held=4)


def test_same_or_higher_crl_number_is_accepted():
    ca = pki.make_ca("CRL Test CA")
    info = crl.verify_crl(signed_crl(ca, number=4), ca.certificate, NOW)

    crl.check_not_older(info, held_number=4, held_this_update=NOW)
    crl.check_not_older(info, held_number=3, held_this_update=NOW)
    crl.check_not_older(info, held_number=None, held_this_update=None)


def test_without_crl_numbers_an_earlier_issue_date_is_older():
    ca = pki.make_ca("CRL Test CA")
    issued = NOW - timedelta(days=2)
    info = crl.verify_crl(signed_crl(ca, this_update=issued), ca.certificate, NOW)

    with pytest.raises(CertificateError) as raised:
        crl.check_not_older(info, held_number=None, held_this_update=NOW - timedelta(hours=1))

    assert raised.value.message == crl.CRL_OLDER_BY_DATE.format(
        new=issued.strftime("%Y-%m-%d %H:%M UTC"),
        held=(NOW - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M UTC"),
    )
