"""Alembic revisions (a package so they are installed with the wheel)."""
