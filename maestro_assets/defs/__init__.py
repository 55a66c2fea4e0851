"""Dagster wiring, one package per domain; each ``defs/<domain>/definitions.py`` holds its
``defs = Definitions(...)``, and ``maestro_assets/definitions.py`` merges every domain it finds.

Maestro uses a few APIs that Dagster 1.13 marks beta (single-run backfill policies among them);
their warnings are filtered here, once, for the whole code location.
"""

import warnings

from dagster import BetaWarning

warnings.filterwarnings("ignore", category=BetaWarning, message=r"Parameter `backfill_policy`")
