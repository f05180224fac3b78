"""ResetDeviceState: the named devices show Offline and any live connection is closed."""

from __future__ import annotations

import pytest

from broker.models import BrokerCommand
from products.models import Device, Product
from tests.api_support import build, client_for, refusal
from tests.broker.link_service import at, connected, send_events
from tests.product_console import make_device, make_product
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


def reset(api, product: Product, names: list[str]):
    return api.ResetDeviceState(
        build(models.ResetDeviceStateRequest, ProductId=product.product_id, DeviceNames=names)
    )


def test_an_online_device_is_marked_offline_and_its_connection_closed(api, client, user):
    product = make_product(user, "meters", auth_method=Product.AuthMethod.KEY)
    online = make_device(product, "meter_01")
    never = make_device(product, "meter_02")
    send_events(client, [connected(online.client_id, at(0))])
    assert Product.objects.get(pk=product.pk).online_count == 1

    response = reset(api, product, ["meter_01", "meter_02"])

    assert response.SuccessCount == 2
    assert [(r.DeviceName, r.Success) for r in response.ResetDeviceResults] == [
        ("meter_01", True),
        ("meter_02", True),
    ]
    stored = Device.objects.get(pk=online.pk)
    assert (stored.online, stored.connected_broker) == (False, "")
    assert stored.activated_at == at(0)  # first online is kept
    assert stored.last_offline_at is not None
    assert Device.objects.get(pk=never.pk).activated_at is None
    assert Product.objects.get(pk=product.pk).online_count == 0
    kicked = BrokerCommand.objects.filter(kind=BrokerCommand.Kind.KICK).values_list("target", flat=True)
    assert set(kicked) == {online.client_id, never.client_id}


def test_unknown_names_are_reported_and_the_others_reset(api, client, user):
    product = make_product(user, "meters", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "meter_01")
    send_events(client, [connected(device.client_id, at(0))])

    response = reset(api, product, ["meter_01", "ghost"])

    assert response.SuccessCount == 1
    ghost = response.ResetDeviceResults[1]
    assert (ghost.DeviceName, ghost.Success) == ("ghost", False)
    assert ghost.Reason == 'There is no device named "ghost" in this product.'
    assert Device.objects.get(pk=device.pk).online is False


def test_another_accounts_product_is_not_found_and_nothing_changes(api, client, other_user):
    product = make_product(other_user, "mallory-meters", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "meter_01")
    send_events(client, [connected(device.client_id, at(0))])

    error = refusal(lambda: reset(api, product, ["meter_01"]))

    assert error.code == "ResourceNotFound.ProductNotExist"
    assert Device.objects.get(pk=device.pk).online is True
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.KICK).exists()
