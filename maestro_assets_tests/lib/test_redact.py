"""Passwords stay out of what Maestro prints: a driver's error text that echoes the password, and a
URL too malformed to parse that still holds ``user:secret@``, through the library
(``SourceDatabase.check`` raising ``ConfigurationError``); ``test_cli_secrets.py`` runs the same
through ``maestro check``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from maestro_assets.lib.errors import ConfigurationError
from maestro_assets.lib.redact import redact_url, scrub
from maestro_assets.lib.warehouse import SourceDatabase

SECRET = "Pw-S3cret-9"
# make_url cannot parse it (no ':' after the scheme), yet it holds the user's credentials
MALFORMED = f"postgresql+psycopg2//maestro:{SECRET}@127.0.0.1:5432/shop"


def echoing(server_url: str) -> str:
    """A URL to the real test server whose password is also the database name: PostgreSQL's
    error (``database "<name>" does not exist``) echoes the password."""
    return sa.engine.make_url(server_url).set(password=SECRET, database=SECRET).render_as_string(False)


@pytest.fixture
def echoing_url(postgres_server_url) -> str:
    return echoing(postgres_server_url)


def test_the_driver_error_really_echoes_the_password(echoing_url):
    """The premise of the next tests: unscrubbed, the driver's text holds the password."""
    with pytest.raises(sa.exc.OperationalError, match=f'database "{SECRET}" does not exist'):
        with sa.create_engine(echoing_url).connect():
            pass


def test_a_driver_error_echoing_the_password_is_scrubbed(echoing_url):
    with pytest.raises(ConfigurationError) as info:
        SourceDatabase(echoing_url, setting="SHOP_DB_URL").check()
    message = str(info.value)
    assert message.startswith("SHOP_DB_URL: cannot connect to ")
    assert 'database "***" does not exist' in message  # the driver's own words, password masked
    assert f'"{SECRET}"' not in message


def test_a_malformed_url_with_credentials_is_redacted():
    with pytest.raises(ConfigurationError) as info:
        SourceDatabase(MALFORMED, setting="SHOP_DB_URL").check()
    message = str(info.value)
    assert message.startswith("SHOP_DB_URL: ")
    assert "is not a database URL" in message
    assert "postgresql+psycopg2//***@127.0.0.1:5432/shop" in message  # still recognisable
    assert SECRET not in message and "maestro:" not in message


def test_scrub_and_redact_url_on_their_own():
    assert scrub(f'FATAL: role "{SECRET}" does not exist', SECRET) == 'FATAL: role "***" does not exist'
    assert scrub(f"tried postgresql://u:{SECRET}@h/db", None) == "tried postgresql://u:***@h/db"
    assert redact_url(MALFORMED) == "postgresql+psycopg2//***@127.0.0.1:5432/shop"
    assert redact_url(f"postgresql://u:{SECRET}@h:5432/db") == "postgresql://u:***@h:5432/db"
