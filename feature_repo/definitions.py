"""Feast objects of Maestro (entities, feature views, feature services), for ``feast apply``.

They are built from the gold feature catalog (maestro_assets/lib/features/catalog.py) by
maestro_assets/lib/feature_store/repo.py; the ``feast_registry`` asset applies them and shows the diff.
"""

from maestro_assets.lib.feature_store.repo import repo_objects

globals().update({obj.name: obj for obj in repo_objects()})
