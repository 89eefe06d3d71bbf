"""What each Socket.IO topology costs a Discord-like gateway, as communities grow.

Topology A maps each community to a dynamic namespace ``/socket/commu-{id}`` (token
checked on every CONNECT, channels are rooms); topology B uses one namespace
``/socket`` and rooms ``commu:{id}`` / ``commu:{id}:chan:{k}``. ``python -m topology``
measures both against plexio's server and writes ``topology/results/``.
"""

from __future__ import annotations

__all__: list[str] = []
