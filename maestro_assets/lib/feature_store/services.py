"""Plain facts of Maestro's Feast repository: its feature services (the demo's two models and the
feature views, by entity, each reads) and how long a feature row stays valid. Kept free of Feast, so
that the code location's definitions name them without importing Feast (about 2.4 s of every run
process's start); :mod:`.repo` builds the Feast objects from them."""

from __future__ import annotations

from datetime import timedelta

FEATURE_SERVICES = {
    "task_lateness": ("task", "user"),
    "project_success": ("project", "team"),
}
# a daily row stays valid until the next day's row is due, with a day's grace for a late run
FEATURE_TTL = timedelta(days=2)
