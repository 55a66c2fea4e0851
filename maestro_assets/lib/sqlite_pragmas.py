"""SQLite settings applied to every connection an SQLAlchemy engine opens (its ``connect`` event)."""

from __future__ import annotations

from collections.abc import Callable


def on_connect(*pragmas: str) -> Callable[[object, object], None]:
    """A ``connect`` listener running ``PRAGMA <p>`` for each of ``pragmas`` on the new connection."""

    def set_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return set_pragmas
