"""Errors Maestro raises on purpose: each names what was wrong and where to fix it."""

from __future__ import annotations


class MaestroError(Exception):
    """Base class of every error Maestro raises deliberately."""


def validation_problems(exc, prefix: str = "") -> str:
    """A pydantic ``ValidationError`` as one line: ``<prefix><field path>: <message>`` per problem."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(part for part in (prefix, key) if part)
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class ConfigurationError(MaestroError):
    """A setting is wrong: the message names the setting (an environment variable) to fix."""

    def __init__(self, setting: str, problem: str, hint: str = ""):
        self.setting = setting
        self.problem = problem
        self.hint = hint
        text = f"{setting}: {problem}"
        if hint:
            text += f" — {hint}"
        super().__init__(text)


class UnknownIdentifierError(MaestroError):
    """A schema, table or column name that is not in the live catalog or the allow-list."""


class LakeKeyError(MaestroError, KeyError):
    """An object key that is not in the lake."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a sentence
        return str(self.args[0]) if self.args else ""


# What may succeed when tried again: the network, a server that is restarting or busy, a lock.
_TRANSIENT_TYPES = {
    ("builtins", "ConnectionError"),
    ("builtins", "TimeoutError"),
    ("builtins", "BrokenPipeError"),
    ("builtins", "ConnectionResetError"),
    ("builtins", "ConnectionRefusedError"),
    ("sqlalchemy.exc", "DisconnectionError"),
    ("sqlalchemy.exc", "TimeoutError"),
    ("psycopg2", "OperationalError"),
    ("psycopg", "OperationalError"),
    ("adbc_driver_manager", "OperationalError"),
    ("botocore.exceptions", "EndpointConnectionError"),
    ("botocore.exceptions", "ConnectionClosedError"),
    ("botocore.exceptions", "ReadTimeoutError"),
    ("botocore.exceptions", "ConnectTimeoutError"),
    ("botocore.exceptions", "ResponseStreamingError"),
    ("urllib3.exceptions", "ProtocolError"),
    ("requests.exceptions", "ConnectionError"),
    ("requests.exceptions", "Timeout"),
    ("redis.exceptions", "ConnectionError"),
    ("redis.exceptions", "TimeoutError"),
}
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}
_TRANSIENT_SQL_TEXT = (
    "database is locked",
    "could not connect",
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "too many connections",
    "deadlock detected",
    "lost connection",
    "gone away",
    "timeout expired",
)


_PERMANENT_SQL_TEXT = (
    "authentication failed",
    "does not exist",
    "no such table",
    "no such column",
    "permission denied",
    "access denied",
    "syntax error",
)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: a failure of the database, the object store or the
    network (this error or one it was raised from). Bad data, bad configuration
    (:class:`MaestroError`) and bugs are not transient: retrying them only repeats the failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MaestroError) or any(text in str(exc).lower() for text in _PERMANENT_SQL_TEXT):
            return False
        for klass in type(exc).__mro__:
            if (
                klass.__module__.split(".")[0]
                if klass.__module__.startswith(("psycopg", "adbc"))
                else klass.__module__,
                klass.__name__,
            ) in _TRANSIENT_TYPES:
                return True
        if type(exc).__name__ == "ClientError" and type(exc).__module__ == "botocore.exceptions":
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            return code in _TRANSIENT_S3_CODES
        if type(exc).__name__ in ("OperationalError", "InterfaceError") and any(
            text in str(exc).lower() for text in _TRANSIENT_SQL_TEXT
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def unreachable_service(exc: BaseException) -> str:
    """What a transient failure could not reach, in words: ``S3 at http://host:port`` (the object
    store, with its endpoint), ``the database``, ``Redis``, ``an HTTP service``, else ``a service``."""
    from urllib.parse import urlsplit

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        module = type(exc).__module__.split(".")[0]
        if module == "botocore":
            endpoint = str((getattr(exc, "kwargs", None) or {}).get("endpoint_url") or "")
            parts = urlsplit(endpoint)
            return f"S3 at {parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else "S3"
        if module in ("sqlalchemy", "psycopg2", "psycopg", "adbc_driver_manager"):
            return "the database"
        if module == "redis":
            return "Redis"
        if module in ("requests", "urllib3"):
            return "an HTTP service"
        exc = exc.__cause__ or exc.__context__
    return "a service"


class BackupError(MaestroError):
    """A backup or restore that cannot go on: a failed pg_dump/pg_restore, a target that is not empty,
    no backup in the lake; the message names the database, the file or the setting."""


class CorruptBackupError(BackupError):
    """A dump whose checksum differs from the manifest's: refused before anything is restored."""


class RestoreVerificationError(BackupError):
    """A restored database whose row counts (or table checksums) differ from the manifest's."""
