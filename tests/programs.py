"""Programs the tests drive for real: in CI a missing one fails the test, elsewhere it skips."""

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_program(path_or_name: str, why: str) -> str:
    """The program's path; in CI its absence fails the test, elsewhere it skips."""
    found = shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed ({why}); `make test` installs it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
