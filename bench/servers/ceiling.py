"""The ceiling: a bare WebSocket server (picows on uvloop), no Engine.IO or Socket.IO state.

Echo: every text or binary frame is sent straight back. What a Socket.IO server spends above
this per message is its own work; this server's CPU per echo is mostly the kernel's send/recv.

Fan-out: the least a server does for the fan-out scenarios' frames, recognised by their first
bytes (no JSON parsing): ``421["join",...]`` adds the connection to the one room and
acks ``431[true]``; ``42["fanout","<room>",<payload>]`` builds one
``42["msg",<payload>]`` frame and sends it to every member, one send each. Any other
frame is echoed.

Run: `python -m bench.servers.ceiling --port P`.
"""

from __future__ import annotations

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.servers.common import parse_args

__all__ = ["EchoListener", "main"]


_JOIN = b'421["join"'
_FANOUT = b'42["fanout",'
_TEXT = WSMsgType.TEXT
#: The room's members (the fan-out scenarios use one room).
ROOM: dict[WSTransport, None] = {}


class EchoListener(WSListener):
    """Sends every data frame back as it came (fan-out frames aside)."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == _TEXT:
            data = frame.get_payload_as_bytes()
            if data.startswith(_FANOUT):
                # 42["fanout","room",PAYLOAD] -> 42["msg",PAYLOAD], built once
                start = data.index(b",", data.index(b",") + 1) + 1
                message = b'42["msg",' + data[start:]
                for member in ROOM:
                    member.send(_TEXT, message)
            elif data.startswith(_JOIN):
                ROOM[transport] = None
                transport.send(_TEXT, b"431[true]")
            else:
                transport.send(_TEXT, data)
        elif msg_type == WSMsgType.BINARY:
            transport.send(msg_type, frame.get_payload_as_memoryview())
        elif msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        ROOM.pop(transport, None)


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
