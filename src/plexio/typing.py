"""Shared type aliases (layer L0: imports nothing from plexio)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*args, **kwargs):
        """How mypyc compiles a class of the sans-I/O cores (``hatch_build.py``).

        mypyc reads the decorator at compile time and never calls it; in pure Python it
        does nothing. Imported here rather than from ``mypy_extensions``, which is only
        a build dependency.
        """
        return lambda cls: cls


__all__ = [
    "BytesLike",
    "Clock",
    "EventName",
    "HandlerT",
    "JSONValue",
    "NamespacePath",
    "Sid",
    "UserCallback",
]

#: A value that travels as a Socket.IO argument: JSON types plus bytes. Deliberately
#: open (``Any``) at this one place: what an application emits may be anything the
#: codec serialises (dataclasses, datetimes... for orjson; refused at the emit with
#: InvalidPacketError otherwise), and what arrives is read through the handler's own
#: annotations. A closed recursive union here would reject those emits and make every
#: received value need narrowing (measured: 241 mypy errors over 22 files).
JSONValue: TypeAlias = Any
#: Inputs accept any of these; outputs are always ``bytes``.
BytesLike: TypeAlias = bytes | bytearray | memoryview
#: An event name: a string, or a number as JavaScript peers may send.
EventName: TypeAlias = str | int | float
#: A session or socket identifier.
Sid: TypeAlias = str
#: A namespace name such as ``"/"`` or ``"/socket/commu-42"``.
NamespacePath: TypeAlias = str
#: A monotonic clock returning seconds.
Clock: TypeAlias = Callable[[], float]
#: A handler whose exact signature a registering decorator keeps.
HandlerT = TypeVar("HandlerT", bound=Callable[..., object])
#: A function the application registers or passes: an event handler, a listener, a
#: middleware or an ack callback; it may return an awaitable (it is then awaited).
UserCallback: TypeAlias = Callable[..., object]
