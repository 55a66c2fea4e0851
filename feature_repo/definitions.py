"""Feast objects of Maestro (entities, feature views, feature services).

Empty for now: the gold feature assets and their feature views are registered here as they land.
"""
