"""Community gateway application: users, communities, channels and messages.

Storage (SQLAlchemy 2.x async, Alembic migrations), auth (argon2 + JWT), the services in
:mod:`community.services` that both the REST API (:mod:`community.api`) and the socket gateway
(:mod:`community.gateway`) call, and the app factory in :mod:`community.app`. Only plexio's
public API may be imported from here.
"""

from __future__ import annotations

__all__: list[str] = []
