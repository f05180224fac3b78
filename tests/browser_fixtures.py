"""Fixtures and steps shared by the browser tests (Playwright driving Debian's chromium).

pytest only reads `pytest_plugins` from the rootdir conftest, and tests/conftest.py
is shared, so a browser test module takes these with
`from .browser_fixtures import *`: a fixture defined (or imported) in a module
overrides pytest-playwright's fixture of the same name for that module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.programs import require_program

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "base_url",
    "browser_type_launch_args",
    "console_url",
    "expect_console_sidebar",
    "sign_in",
    "write_file",
]

CHROMIUM = "/usr/bin/chromium"
# No sandbox (containers, root), no GPU, and nothing that reaches for the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options (--headed, --slowmo…) with Debian's chromium.

    Never `playwright install`: there is no internet. Without chromium the browser
    tests fail in CI (CI=true) and are skipped elsewhere.
    """
    require_program(CHROMIUM, "the browser tests drive Debian's chromium through Playwright")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """The live server, so that `page.goto("/certificates/")` works.

    Also replaces pytest-playwright's fallback `base_url`, a fixture defined as an
    instance method that pytest 9 warns about (PytestRemovedIn10Warning).
    """
    return live_server.url


def console_url(live_server, path: str) -> str:
    return f"{live_server.url}{path}"


def sign_in(page: Page, live_server, username: str, password: str) -> None:
    """Sign in on /accounts/login/ as a user would: the labelled fields, then the button."""
    page.goto(console_url(live_server, "/accounts/login/"))
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(f"{live_server.url}/accounts/login/")


def expect_console_sidebar(page: Page) -> None:
    """The left sidebar has the Products and Certificate Management links."""
    sidebar = page.get_by_role("navigation", name="Console")
    expect(sidebar.get_by_role("link", name="Products", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Certificate Management", exact=True)).to_be_visible()


def write_file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path
