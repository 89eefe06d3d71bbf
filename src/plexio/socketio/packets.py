"""Socket.IO v5 packets (layer L1: imports only plexio.exceptions and plexio.typing).

A :class:`Packet` is what travels inside one Engine.IO message (Socket.IO v5 "packet
format"): a type, a namespace, an optional ack id and an optional JSON payload.

**Binary packets.** ``BINARY_EVENT`` and ``BINARY_ACK`` exist only on the wire. A
:class:`Packet` never has those types: an ``EVENT`` or ``ACK`` whose data contains
``bytes`` is written as ``BINARY_EVENT``/``BINARY_ACK`` by the parser, and the parser
decodes those wire forms back into ``EVENT``/``ACK`` packets with the ``bytes``
restored in place. This mirrors the reference ``socket.io-parser`` and keeps
``decode(encode(p)) == p`` a plain equality. Binary values may be given as
``bytes``, ``bytearray`` or ``memoryview``; they always come back as ``bytes``.

**Validation** (Socket.IO v5 payload rules as the reference implementation enforces
them, PROTOCOL.md items 50 and 52) happens in the constructor, so an invalid packet
cannot exist; a violation raises :class:`~plexio.exceptions.InvalidPacketError`
(decoders translate it into :class:`~plexio.exceptions.DecodeError`):

=============  ==============================================================
type           data
=============  ==============================================================
CONNECT        ``None`` (no payload) or a ``dict`` (auth / ``{"sid": ...}``)
DISCONNECT     ``None``
EVENT          non-empty ``list``; first element (event name) is a ``str`` not
               in :data:`RESERVED_EVENTS`, or a finite ``int``/``float``
ACK            ``list`` (may be empty); ``ack_id`` is required
CONNECT_ERROR  ``dict`` (``{"message": ..., "data": ...}``) or ``str`` (legacy)
=============  ==============================================================

Only EVENT (optional) and ACK (required) carry an ``ack_id``: a non-negative ``int``.
The namespace is a ``str`` starting with ``/`` and containing no ``,`` (the comma
ends the namespace in the text encoding) and no ``\x1e`` (the namespace is written
raw, and that character separates packets in an Engine.IO polling payload).

Nested payload contents are not walked here (that would cost a tree walk per
packet); a value that cannot be serialised is reported by the parser's ``encode``.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from plexio.exceptions import InvalidPacketError
from plexio.typing import JSONValue

__all__ = ["RESERVED_EVENTS", "Packet", "PacketType"]

#: Event names a peer may not use (they have a meaning of their own in the
#: reference implementations); an EVENT carrying one of them is invalid.
RESERVED_EVENTS: Final[frozenset[str]] = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }
)

_STR_LIMIT: Final = 80


class PacketType(IntEnum):
    """Socket.IO v5 packet type, the first character of an encoded packet."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_CONNECT: Final = PacketType.CONNECT
_DISCONNECT: Final = PacketType.DISCONNECT
_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK
_CONNECT_ERROR: Final = PacketType.CONNECT_ERROR


def _bad(message: str) -> InvalidPacketError:
    return InvalidPacketError(message)


def _check_event_name(name: object) -> None:
    if isinstance(name, str):
        if name in RESERVED_EVENTS:
            raise _bad(f"event name {name[:40]!r} is reserved")
    elif isinstance(name, float):
        if not math.isfinite(name):
            raise _bad("a numeric event name must be finite")
    elif not isinstance(name, int) or isinstance(name, bool):
        raise _bad("an event name must be a str or a number")


def _check_namespace(namespace: object) -> None:
    if not isinstance(namespace, str):
        raise _bad("namespace must be a str")
    if namespace[:1] != "/" or "," in namespace or "\x1e" in namespace:
        raise _bad(
            f"namespace must start with '/' and contain no ',' or '\\x1e': {namespace[:40]!r}"
        )


_ACK_ID_RULE: Final = "ack id must be a non-negative int"


def _check_other(kind: object, data: JSONValue, ack_id: object) -> PacketType:
    """Validate a packet that is neither EVENT nor ACK; return its type member."""
    if kind.__class__ is PacketType:
        member: PacketType = kind
    else:
        try:
            member = PacketType(kind)  # type: ignore[arg-type]  # any value may be passed
        except ValueError:
            raise _bad(f"unknown packet type {kind!r}") from None
    if ack_id is not None:
        raise _bad(f"{member.name} packets carry no ack id")
    if member is _CONNECT:
        if data is not None and data.__class__ is not dict:
            raise _bad("CONNECT data must be None or a dict")
    elif member is _DISCONNECT:
        if data is not None:
            raise _bad("DISCONNECT packets carry no data")
    elif member is _CONNECT_ERROR:
        if data.__class__ is not dict and data.__class__ is not str:
            raise _bad("CONNECT_ERROR data must be a dict or a str")
    else:
        raise _bad("BINARY_EVENT/BINARY_ACK are wire forms: build an EVENT/ACK with bytes in it")
    return member


@dataclass(frozen=True, slots=True, init=False)
class Packet:
    """One Socket.IO packet.

    Prefer the named constructors (:meth:`connect`, :meth:`event`, ...). The
    constructor is written by hand (same signature as the generated one) because a
    frozen dataclass's generated ``__init__`` costs twice as much, and packets are
    built for every message; it validates its arguments before storing them.

    Attributes:
        type: the packet type; never ``BINARY_EVENT``/``BINARY_ACK`` (see the module
            docstring).
        namespace: the namespace, ``"/"`` for the main one.
        data: the JSON payload; for EVENT the event name followed by its arguments.
        ack_id: acknowledgement id (EVENT: optional, ACK: required).

    Raises:
        InvalidPacketError: the fields break the Socket.IO v5 rules.
        TypeError: a field of the wrong Python type, when this module is compiled by
            mypyc (its argument check comes first; the pure-Python build raises
            InvalidPacketError for it too).
    """

    type: PacketType
    namespace: str
    data: JSONValue
    ack_id: int | None

    def __init__(
        self,
        type: PacketType | int,
        namespace: str = "/",
        data: JSONValue = None,
        ack_id: int | None = None,
    ) -> None:
        if namespace != "/":
            _check_namespace(namespace)
        if type == _EVENT:
            if data.__class__ is not list or not data:
                raise _bad("EVENT data must be a non-empty list (event name first)")
            name = data[0]
            if name.__class__ is not str or name in RESERVED_EVENTS:
                _check_event_name(name)
            # The class is read before ``ack_id`` is narrowed to ``int``: compiled by mypyc,
            # the narrowed value of a ``bool`` would read as ``int``.
            ack_class = ack_id.__class__
            if ack_id is not None and (ack_class is not int or ack_id < 0):
                raise _bad(_ACK_ID_RULE)
            type = _EVENT
        elif type == _ACK:
            if data.__class__ is not list:
                raise _bad("ACK data must be a list")
            if ack_id.__class__ is not int or ack_id < 0:
                raise _bad(_ACK_ID_RULE)
            type = _ACK
        else:
            type = _check_other(type, data, ack_id)
        # Frozen: store through the slot descriptors (what the generated __init__
        # does with object.__setattr__, minus the attribute lookups).
        _SET_TYPE(self, type)
        _SET_NAMESPACE(self, namespace)
        _SET_DATA(self, data)
        _SET_ACK_ID(self, ack_id)

    # -- named constructors -------------------------------------------------

    @classmethod
    def connect(cls, namespace: str = "/", auth: dict[str, JSONValue] | None = None) -> Packet:
        """A CONNECT packet: a client joining ``namespace``, or the server's reply.

        Args:
            namespace: the namespace to join.
            auth: the client's auth object, or the server's ``{"sid": ...}`` reply;
                ``None`` for no payload.
        """
        return cls(_CONNECT, namespace, auth)

    @classmethod
    def disconnect(cls, namespace: str = "/") -> Packet:
        """A DISCONNECT packet leaving ``namespace`` (the Engine.IO session stays)."""
        return cls(_DISCONNECT, namespace)

    @classmethod
    def event(cls, namespace: str, data: list[JSONValue], ack_id: int | None = None) -> Packet:
        """An EVENT packet.

        Args:
            namespace: the namespace the event belongs to.
            data: the event name followed by its arguments, e.g. ``["chat", "hi"]``.
            ack_id: set when the sender wants an acknowledgement.
        """
        return cls(_EVENT, namespace, data, ack_id)

    @classmethod
    def ack(cls, namespace: str, ack_id: int, data: list[JSONValue]) -> Packet:
        """An ACK packet answering the EVENT with ``ack_id`` in ``namespace``.

        Args:
            namespace: the namespace of the acknowledged event.
            ack_id: the id the event carried.
            data: the acknowledgement arguments (may be empty).
        """
        return cls(_ACK, namespace, data, ack_id)

    @classmethod
    def connect_error(cls, namespace: str, message: str, data: JSONValue = None) -> Packet:
        """A CONNECT_ERROR packet refusing a CONNECT (v5 form ``{"message", "data"}``).

        Args:
            namespace: the refused namespace.
            message: human-readable reason.
            data: optional extra details for the client (omitted when ``None``).
        """
        payload: dict[str, JSONValue] = {"message": message}
        if data is not None:
            payload["data"] = data
        return cls(_CONNECT_ERROR, namespace, payload)

    # -- logging --------------------------------------------------------------

    def __str__(self) -> str:
        parts = [PacketType(self.type).name]
        if self.namespace != "/":
            parts.append(_shorten(self.namespace, 40))
        if self.ack_id is not None:
            parts.append(f"#{self.ack_id}")
        if self.data is not None:
            parts.append(_shorten(_REPR.repr(self.data), _STR_LIMIT))
        return " ".join(parts)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sized(x: bytes | bytearray | memoryview, level: int) -> str:
    return f"<{x.nbytes if isinstance(x, memoryview) else len(x)} bytes>"


_SET_TYPE: Final = vars(Packet)["type"].__set__
_SET_NAMESPACE: Final = vars(Packet)["namespace"].__set__
_SET_DATA: Final = vars(Packet)["data"].__set__
_SET_ACK_ID: Final = vars(Packet)["ack_id"].__set__


def _make_repr() -> reprlib.Repr:
    # Bounded rendering: a large payload costs O(limits), not O(size), to log. Binary
    # values are shown by size. The hooks are set on the instance (``reprlib`` looks
    # them up with ``getattr``), not in a subclass: compiled by mypyc, a subclass
    # lacked ``Repr``'s settings (``AttributeError: maxlong``).
    r = reprlib.Repr()
    for kind in ("bytes", "bytearray", "memoryview"):
        setattr(r, f"repr_{kind}", _sized)
    r.maxlevel = 3
    r.maxlist = 6
    r.maxdict = 6
    r.maxstring = 40
    r.maxother = 30
    return r


_REPR: Final = _make_repr()
