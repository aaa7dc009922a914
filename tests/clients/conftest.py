"""Shared settings for the client tests: where the server is and who we are.

`.ci/run` (or `tests/clients/run.sh`) starts `omnimarket serve` and sets these variables; run by hand with
OMNIMARKET_FLIGHT_URI=grpc://127.0.0.1:PORT OMNIMARKET_USER=... OMNIMARKET_PASSWORD=... pytest tests/clients
"""

import os

import pytest


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        # Under run.sh (and so in CI) a missing server is a failure, never a silent skip.
        if os.environ.get("OMNIMARKET_CLIENTS_STRICT"):
            pytest.fail(f"{name} is not set")
        pytest.skip(f"{name} is not set: start a server first (see tests/clients/run.sh)")
    return value


@pytest.fixture(scope="session")
def uri() -> str:
    return _need("OMNIMARKET_FLIGHT_URI")


@pytest.fixture(scope="session")
def credentials() -> tuple[str, str]:
    return _need("OMNIMARKET_USER"), _need("OMNIMARKET_PASSWORD")
