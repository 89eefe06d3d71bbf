"""Community gateway application: users, communities, channels and messages.

The data and REST half lives here: storage (SQLAlchemy 2.x async, Alembic migrations), auth
(argon2 + JWT), the service layer in :mod:`community.service` that both the REST API and the
socket gateway call, and the FastAPI app factory in :mod:`community.app`. Only plexio's public API
may be imported from here.
"""

from __future__ import annotations

__all__: list[str] = []
