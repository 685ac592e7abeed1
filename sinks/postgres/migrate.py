"""``herald db upgrade``: Alembic driven from code, so no alembic.ini has to be found on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Brings the schema to ``revision``; safe to run on every start (Alembic is idempotent)."""
    command.upgrade(alembic_config(database_url), revision)
