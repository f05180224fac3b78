"""Production settings from the environment: IOTHUB_BEHIND_TLS_PROXY, and `check --deploy` clean."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "IOTHUB_BEHIND_TLS_PROXY": "true",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_SETTINGS_MODULE": "iothub_console.settings",
}
PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({name: getattr(settings, name, None) for name in (
    "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "DEBUG")}))
"""


def run(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    # The test run's own DJANGO_ALLOW_ASYNC_UNSAFE (conftest.py, for Playwright) is
    # no part of a deployment, and `check --deploy` rightly refuses it.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_issues_with_the_production_variables():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_without_the_tls_proxy_variable():
    variables = {**PRODUCTION, "IOTHUB_BEHIND_TLS_PROXY": "false"}

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **variables)

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_behind_the_tls_proxy_cookies_are_secure_hsts_a_year_and_http_redirected():
    result = run(["-c", PRINT_SETTINGS], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "DEBUG": False,
    }
