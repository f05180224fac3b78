"""`manage.py certificate_health`: the same findings, exit 1 when anything expires within --days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from certificates.models import CACertificate
from tests import pki
from tests.product_console import register_ca

pytestmark = pytest.mark.django_db


def run(*arguments: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("certificate_health", *arguments, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def register_valid_for(user, days: int, name: str) -> None:
    now = datetime.now(UTC)
    ca = pki.make_ca(f"{name} CA", key=pki.ec_key(), not_after=now + timedelta(days=days))
    register_ca(user, ca, name)


def test_nothing_expiring_exits_0(user):
    register_valid_for(user, 3650, "long_lived")
    code, out = run()
    assert code == 0
    assert out == "No findings: nothing expires within 30 days.\n"


def test_a_ca_expiring_in_ten_days_exits_1_and_is_listed(user):
    register_valid_for(user, 10, "short_lived")
    register_valid_for(user, 3650, "long_lived")
    code, out = run()
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "1 finding(s):"
    assert lines[1].split() == ["1", "CA", "certificate", "expiring"]
    assert "CA certificate expiring: [alice] short_lived — Expires" in out
    assert "long_lived" not in out


def test_days_sets_the_threshold(user):
    register_valid_for(user, 10, "short_lived")
    assert run("--days", "5")[0] == 0
    assert run("--days", "11")[0] == 1


def test_json_for_machines(user):
    register_valid_for(user, 10, "short_lived")
    code, out = run("--json")
    assert code == 1
    report = json.loads(out)
    assert (report["days"], report["total"], report["expiring"]) == (30, 1, 1)
    assert report["counts"] == {"ca_expiring": 1}
    (finding,) = report["findings"]
    assert (finding["kind"], finding["account"], finding["object"]) == ("ca_expiring", "alice", "short_lived")
    assert finding["url"].startswith("/certificates/")
    assert datetime.fromisoformat(finding["since"])


def test_account_limits_the_report_to_one_account(user, other_user):
    register_valid_for(user, 10, "short_lived")
    assert run("--account", "mallory")[0] == 0
    assert run("--account", "alice")[0] == 1
    with pytest.raises(CommandError, match=r'There is no account named "nobody"\.'):
        call_command("certificate_health", "--account", "nobody")


def test_weak_keys_are_printed_but_do_not_fail_it(user):
    register_valid_for(user, 3650, "weak_ca")
    CACertificate.objects.update(key_description="RSA 1024")
    code, out = run()
    assert code == 0
    assert "Weak key: [alice] weak_ca — RSA 1024" in out
