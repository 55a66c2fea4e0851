"""The one ``Definitions`` object of the Maestro code location: every domain's, merged.

A domain is a package ``maestro_assets/defs/<domain>/`` with a ``definitions.py`` that holds
``defs = Definitions(...)``; adding one needs no change here (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
import pkgutil

from dagster import Definitions

from . import defs as defs_package


def domain_definitions(package=defs_package) -> dict[str, Definitions]:
    """Each domain's ``defs``, by domain name, in name order."""
    found = {}
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.ispkg and importlib.util.find_spec(f"{package.__name__}.{module.name}.definitions"):
            found[module.name] = importlib.import_module(f"{package.__name__}.{module.name}.definitions").defs
    return found


defs = Definitions.merge(*domain_definitions().values())
