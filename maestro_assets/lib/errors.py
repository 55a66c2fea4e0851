"""Errors Maestro raises on purpose: each names what was wrong and where to fix it."""

from __future__ import annotations


class MaestroError(Exception):
    """Base class of every error Maestro raises deliberately."""


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
