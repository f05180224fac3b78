"""Racing registrations cannot break the single-use code or the 10-CA limit.

Each registration runs in its own thread with its own database connection, as two
server workers would; a barrier starts them together. `slow_lock` holds the account
lock for a moment so that the second registration is certainly waiting on it while
the first counts and inserts: without real serialisation both would see 9 CAs.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from certificates import services
from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import current_code, register

pytestmark = pytest.mark.django_db(transaction=True)


def race(attempts: list[dict]) -> list[object]:
    """Run each attempt's register_ca_certificate at the same moment; return each outcome."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = [None] * len(attempts)

    def attempt(index: int, kwargs: dict) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = services.register_ca_certificate(**kwargs)
        except Exception as error:  # kept for the assertions, whatever it is
            outcomes[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=(index, kwargs)) for index, kwargs in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return outcomes


@pytest.fixture(params=[False, True], ids=["plain", "slow_lock"])
def slow_lock(request, monkeypatch):
    if request.param:
        real_lock = services.lock_account

        def lock_then_linger(owner):
            real_lock(owner)
            time.sleep(0.2)

        monkeypatch.setattr(services, "lock_account", lock_then_linger)
    return request.param


def attempt_for(owner, code: str, index: int) -> dict:
    ca = pki.make_ca(f"Racing CA {index}", key=pki.ec_key())
    return {
        "owner": owner,
        "name": f"racer{index}",
        "certificate_data": ca.pem,
        "verification_data": pki.make_verification(code, ca).pem,
    }


def split(outcomes: list[object]) -> tuple[list[CACertificate], list[object]]:
    won = [outcome for outcome in outcomes if isinstance(outcome, CACertificate)]
    lost = [outcome for outcome in outcomes if not isinstance(outcome, CACertificate)]
    return won, lost


def test_one_code_registers_only_one_of_two_racing_cas(user, slow_lock):
    code = current_code(user)

    outcomes = race([attempt_for(user, code, 0), attempt_for(user, code, 1)])

    won, lost = split(outcomes)
    assert len(won) == 1, outcomes
    assert len(lost) == 1
    assert isinstance(lost[0], services.ServiceError), lost
    assert lost[0].message == services.CODE_ALREADY_USED
    assert lost[0].code == "InvalidParameterValue.CACertNotMatch"
    assert lost[0].field == "verification_certificate"
    assert list(CACertificate.objects.values_list("name", flat=True)) == [won[0].name]
    assert AuthenticationCode.objects.get(code=code).used_at is not None


def test_limit_holds_when_tenth_and_eleventh_race(user, slow_lock):
    limit = settings.IOTHUB_CA_LIMIT
    for index in range(limit - 1):
        register(user, pki.make_ca(f"CA {index}", key=pki.ec_key()), f"ca{index}")
    first_code = current_code(user)
    # A second unused code, so that each racer has its own proof and only the
    # limit can stop one of them (the service finds a code by the CN it is given).
    second_code = AuthenticationCode.objects.create(owner=user).code

    outcomes = race([attempt_for(user, first_code, 0), attempt_for(user, second_code, 1)])

    won, lost = split(outcomes)
    assert len(won) == 1, outcomes
    assert len(lost) == 1
    assert isinstance(lost[0], services.ServiceError), lost
    assert lost[0].message == services.CA_LIMIT_REACHED.format(limit=limit)
    assert lost[0].code == "LimitExceeded.CACertLimit"
    assert CACertificate.objects.filter(owner=user).count() == limit
    assert CACertificate.objects.filter(name__startswith="racer").get().pk == won[0].pk
    winner_code = first_code if won[0].name == "racer0" else second_code
    loser_code = second_code if winner_code == first_code else first_code
    assert AuthenticationCode.objects.get(code=winner_code).used_at is not None
    assert AuthenticationCode.objects.get(code=loser_code).used_at is None
