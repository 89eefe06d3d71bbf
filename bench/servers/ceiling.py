"""The ceiling: a bare WebSocket echo server (picows on uvloop), no Engine.IO or Socket.IO.

Every text or binary frame is sent straight back. What a Socket.IO server spends above this per
message is its own work; this server's CPU per echo is mostly the kernel's send/recv.

Run: `python -m bench.servers.ceiling --port P`.
"""

from __future__ import annotations

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.servers.common import parse_args

__all__ = ["EchoListener", "main"]


class EchoListener(WSListener):
    """Sends every data frame back as it came."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY:
            transport.send(msg_type, frame.get_payload_as_memoryview())
        elif msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


def _factory(request: WSUpgradeRequest) -> EchoListener:
    return EchoListener()


async def _serve(host: str, port: int) -> None:
    server = await ws_create_server(_factory, host, port)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the command line and serve until killed."""
    args = parse_args("bare WebSocket echo server (ceiling)", ["picows"])
    uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
