"""A docker compose file read the way ``docker compose`` reads it, to run its services natively.

YAML anchors and aliases (``x-maestro-env: &maestro-env`` ... ``environment: *maestro-env``)
resolve in the YAML load; every string is then interpolated from the given variables with
compose's rules: ``${VAR}`` and ``$VAR`` (empty when unset), ``${VAR:-default}`` (default when
unset or empty), ``${VAR-default}`` (default when unset), ``${VAR:?message}`` / ``${VAR?message}``
(an error naming the variable), and ``$$`` for a literal ``$``; a default may itself hold a
``${...}``. A string ``command`` is split the
way compose splits it (shell words, no shell); the service's ``entrypoint`` comes first. A service
with ``profiles`` starts only when one of them is asked for (``--profile``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigurationError

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>(?:[^{}]|\{[^{}]*\})*))?\}"  # a default may hold one ${...}
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, variables: Mapping[str, str], where: str = "") -> str:
    """``text`` with compose's ``${...}`` references replaced from ``variables``."""

    def replace(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        value, op, arg = variables.get(name), match.group("op"), match.group("arg") or ""
        missing = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return interpolate(arg, variables, where) if missing else value
        if op in (":?", "?") and missing:
            raise ConfigurationError(name, arg or "is required", f"set it for {where or 'the compose file'}")
        return value or ""

    return _REFERENCE.sub(replace, text)


def _interpolate_tree(node, variables: Mapping[str, str], where: str):
    if isinstance(node, str):
        return interpolate(node, variables, where)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables, where) for item in node]
    if isinstance(node, dict):
        return {
            key: _interpolate_tree(value, variables, f"{where}.{key}" if where else str(key))
            for key, value in node.items()
        }
    return node


def _words(value) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


@dataclass
class ComposeService:
    name: str
    argv: list[str]  # entrypoint + command, as the container would execute them
    environment: dict[str, str] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)  # empty: started by every `docker compose up`
    restart: str = "no"  # compose's restart policy: no, always, on-failure[:N], unless-stopped


def compose_services(path: Path, variables: Mapping[str, str]) -> dict[str, ComposeService]:
    """Every service of the compose file at ``path`` with its command and environment resolved."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise ConfigurationError(str(path), "has no `services:` mapping", "is it a docker compose file?")
    services = {}
    for name, spec in raw["services"].items():
        resolved = _interpolate_tree(spec, variables, f"{path}: services.{name}")
        environment = resolved.get("environment") or {}
        if isinstance(environment, list):  # the ["KEY=value", ...] form
            environment = dict(item.split("=", 1) for item in environment)
        argv = _words(resolved.get("entrypoint")) + _words(resolved.get("command"))
        services[name] = ComposeService(
            name,
            argv,
            {key: str(value) for key, value in environment.items()},
            [str(profile) for profile in resolved.get("profiles") or []],
            str(resolved.get("restart") or "no"),
        )
    return services
