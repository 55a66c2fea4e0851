"""Alembic migrations of the analytics tables (a package so that they ship with Maestro)."""
