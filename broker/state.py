from django.db.models import F
from django.utils import timezone

from .models import BrokerState

STATE_PK = 1


def mark_access_changed() -> None:
    """Tell the broker supervisor that devices, products or CAs changed."""
    updated = BrokerState.objects.filter(pk=STATE_PK).update(
        version=F("version") + 1, last_updated=timezone.now()
    )
    if not updated:
        BrokerState.objects.get_or_create(pk=STATE_PK, defaults={"version": 1})


def current_version() -> int:
    state = BrokerState.objects.filter(pk=STATE_PK).only("version").first()
    return state.version if state is not None else 0
