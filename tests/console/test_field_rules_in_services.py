"""The shared field rules: one validator serves form, model and service, with the Tencent code."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from certificates import validators as certificate_validators
from iothub_console.errors import ServiceError
from iothub_console.validators import (
    CONTROL_CHARACTERS_REFUSED,
    check,
    printable,
    reject_control_characters,
)
from products import validators


def test_a_refused_value_becomes_a_service_error_with_the_rules_code_and_field():
    with pytest.raises(ServiceError) as refused:
        check(validators.validate_psk, "not base64!", field="psk")

    assert (refused.value.code, refused.value.message, refused.value.field) == (
        validators.PSK_NOT_BASE64_CODE,
        validators.PSK_NOT_BASE64,
        "psk",
    )


def test_an_accepted_value_passes_the_service_check():
    check(validators.validate_device_name, "dev_01:a-b", field="name")
    check(certificate_validators.validate_certificate_size, 64 * 1024, field="ca_certificate")


def test_one_byte_over_64_kib_is_refused_with_its_size():
    with pytest.raises(ServiceError) as refused:
        check(certificate_validators.validate_certificate_size, 64 * 1024 + 1, field="ca_certificate")

    assert refused.value.code == "InvalidParameterValue.CACertInvalid"
    assert refused.value.message == certificate_validators.FILE_TOO_LARGE.format(size=64 * 1024 + 1)


@pytest.mark.parametrize("text", ["a\x00b", "\x01", "bell\x07", "esc\x1b[0m", "del\x7f", "c1\x85", "\x9f"])
def test_control_characters_are_refused(text):
    with pytest.raises(ValidationError) as refused:
        reject_control_characters(text)

    assert refused.value.messages == [CONTROL_CHARACTERS_REFUSED]


def test_tabs_and_line_breaks_are_text_not_control():
    reject_control_characters("first line\r\n\tsecond line, ünïcode and emoji 🙂")


def test_printable_shows_each_control_character_as_a_replacement_mark():
    assert printable("dev\x00\x1b01\tok") == "dev\ufffd\ufffd01\tok"
