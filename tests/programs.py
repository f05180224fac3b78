"""Programs the tests drive for real: in CI a missing one fails the test, elsewhere it skips."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[1]


def require_program(path_or_name: str, why: str) -> str:
    """The program's path; in CI its absence fails the test, elsewhere it skips."""
    found = shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed ({why}); `make test` installs it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def manage_py(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGS` in a child process with `env`, as a deployment runs it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,  # callers assert the return code, with its stderr
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
