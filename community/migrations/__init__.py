"""Alembic migrations of the community application, run by :func:`community.db.migrate`."""

from __future__ import annotations

__all__: list[str] = []
