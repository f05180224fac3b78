"""The console sends a Content-Security-Policy that its own templates satisfy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# What a policy without 'unsafe-inline' blocks, as it could appear in a template.
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE),
    "event handler attribute": re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";")]
    return {directive[0]: directive[1:] for directive in directives if directive}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/products/", "/certificates/add/", "/api-keys/"])
def test_pages_carry_a_self_only_policy_without_inline_code(client, user, path):
    if path != "/accounts/login/":
        client.force_login(user)

    response = client.get(path)

    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "script-src" not in directives and "style-src" not in directives  # both 'self' only
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


@pytest.mark.parametrize("kind", sorted(INLINE))
def test_no_template_has_inline_code_the_policy_would_block(kind):
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in INLINE[kind].finditer(path.read_text())
    ]

    assert offenders == []
