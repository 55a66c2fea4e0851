"""``maestro check`` never prints a password: not when the driver's error text echoes it, not
when the URL is too malformed to parse (the library side is in ``lib/test_redact.py``)."""

from __future__ import annotations

import os

import pytest

from maestro_assets.lib.settings import ENV_DEMO_SOURCE_URL
from maestro_assets_tests.lib.test_redact import MALFORMED, SECRET, echoing
from maestro_assets_tests.test_cli import run_maestro


@pytest.fixture
def echoing_url(postgres_server_url) -> str:
    return echoing(postgres_server_url)


@pytest.fixture
def cli_env(maestro_home):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["MAESTRO_HOME"] = str(maestro_home)
    return env


def test_maestro_check_never_prints_the_echoed_password(cli_env, echoing_url):
    done = run_maestro("check", env={**cli_env, ENV_DEMO_SOURCE_URL: echoing_url}, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"{ENV_DEMO_SOURCE_URL}: cannot connect to " in done.stderr
    assert 'database "***" does not exist' in done.stderr
    assert f'"{SECRET}"' not in output
    assert "Traceback" not in output


def test_maestro_check_never_prints_a_malformed_urls_password(cli_env):
    done = run_maestro("check", env={**cli_env, ENV_DEMO_SOURCE_URL: MALFORMED}, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"{ENV_DEMO_SOURCE_URL}: " in done.stderr and "is not a database URL" in done.stderr
    assert SECRET not in output
    assert "Traceback" not in output
