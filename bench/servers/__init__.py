"""The benchmark's Python servers, one module per server, each started as its own process.

Every server has the same handlers: `echo` acks its payload, `join` joins a room and acks `true`,
`fanout(room, payload)` broadcasts `msg` with the payload to the room; on `/` and on the regex
namespaces `/socket/commu-\\d+`. `bench/node/server.js` is the Node twin.
"""

from __future__ import annotations

__all__: list[str] = []
