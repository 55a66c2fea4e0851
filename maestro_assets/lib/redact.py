"""Keeping secrets out of everything Maestro prints: logs, metadata, error messages.

One rule for every kind of text: a URL's password becomes ``***`` (``scheme://user:***@host``),
and any secret value known to the caller (a password, a token) is replaced wherever it appears,
also inside a database driver's error text that echoes it.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url

MASK = "***"
_USERINFO_PASSWORD = re.compile(r"(//[^/@:\s]*:)[^/@\s]*@")
_USERINFO = re.compile(r"//[^@/\s]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` — the only form of a URL Maestro prints."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL: keep the scheme, hide the whole user part
        return _USERINFO.sub(f"//{MASK}@", url)


def url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:
        found = re.search(r"//[^/@:\s]*:([^/@\s]*)@", url)
        return found.group(1) if found else None


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with each secret and every URL password in it replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _USERINFO_PASSWORD.sub(rf"\g<1>{MASK}@", text)
