"""Feast for Maestro: opening the repository, its objects built from the feature catalog, apply
with a diff, and online writes and reads of the gold tables."""

from .store import open_feature_store

__all__ = ["open_feature_store"]
