"""Alembic environment and revisions for DreamReel's database.

Run them with `dreamreel db upgrade` or `storage.migrate.upgrade(url)`; the Alembic `Config` is
built in code (see `storage.migrate.alembic_config`), so no alembic.ini is needed.
"""
