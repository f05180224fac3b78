"""A form error shows its Tencent error code beside the message, as the API reports it."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.template.loader import render_to_string
from django.utils.html import escape

from iothub_console.errors import ServiceError, add_to_form
from products import services
from tests.product_console import CREATE_URL, make_product, product_form

pytestmark = pytest.mark.django_db


def shown_errors(page: str) -> list[tuple[str, str]]:
    """(message, code) of each field error on the page, as crispy places them."""
    return re.findall(
        r'<p id="error_\d+_id_\w+"><strong>(.*?)</strong>(?: <code class="error-code">(.*?)</code>)?</p>',
        page,
    )


def test_a_service_refusal_beside_its_field_shows_the_tencent_code(signed_in_client, user):
    make_product(user, "thermometers")

    response = signed_in_client.post(CREATE_URL, product_form(name="thermometers"))

    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["name"][0].code == services.PRODUCT_EXISTS_CODE
    message = escape(services.PRODUCT_NAME_TAKEN.format(name="thermometers"))
    assert shown_errors(response.content.decode()) == [(message, "InvalidParameterValue.ProductAlreadyExist")]


def test_a_refusal_about_the_whole_form_shows_the_code_above_it(signed_in_client, user, settings):
    settings.IOTHUB_PRODUCT_LIMIT = 1
    make_product(user, "thermometers")

    response = signed_in_client.post(CREATE_URL, product_form(name="lamps"))

    assert response.status_code == 200
    alert = response.content.decode().split('<div class="alert alert-danger py-2" role="alert">', 1)[1]
    alert = alert.split("</div>\n</div>", 1)[0]
    assert escape(services.PRODUCT_LIMIT_REACHED.format(limit=1)) in alert
    assert '<code class="error-code">LimitExceeded.ProductExceedLimit</code>' in alert


def test_an_error_without_a_tencent_code_shows_only_its_message(signed_in_client):
    response = signed_in_client.post(CREATE_URL, product_form(name=""))

    assert response.status_code == 200
    assert shown_errors(response.content.decode()) == [("This field is required.", "")]


class _Form(forms.Form):
    name = forms.CharField(required=False)


def test_add_to_form_keeps_the_code_for_the_field_or_the_form():
    form = _Form(data={"name": "x"})
    form.is_valid()
    add_to_form(form, ServiceError("InvalidParameterValue.ProductAlreadyExist", "Taken.", "name"))
    add_to_form(form, ServiceError("LimitExceeded.ProductExceedLimit", "Too many.", "no_such_field"))

    assert [(error.message, error.code) for error in form.errors.as_data()["name"]] == [
        ("Taken.", "InvalidParameterValue.ProductAlreadyExist")
    ]
    assert '<code class="error-code">LimitExceeded.ProductExceedLimit</code>' in render_to_string(
        "includes/form_errors.html", {"form": form}
    )
