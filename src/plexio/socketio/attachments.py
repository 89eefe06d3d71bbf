"""Binary attachments of Socket.IO v5 packets (layer L1: imports only plexio L0 modules).

The JSON wire form cannot carry bytes, so the sender replaces every binary value
in an EVENT/ACK payload by a placeholder ``{"_placeholder": true, "num": k}``
(``k`` = 0, 1, ... in depth-first document order) and sends the buffers as
separate Engine.IO binary messages right after the text header (Socket.IO v5,
"packet encoding", PROTOCOL.md item 53). The receiver puts them back.

Three tools live here:

* :func:`extract` — one pure-Python walk that copies only the containers on the path
  to a binary value and returns the input object itself when there is none;
* :class:`AttachmentCollector` — the same extraction done *inside* ``orjson.dumps``
  as its ``default`` hook, so encoding a binary packet walks the tree once, in C
  (orjson visits lists in index order and dicts in insertion order, which is the
  same depth-first order :func:`extract` uses);
* :func:`reinsert` — validates and replaces the placeholders of a decoded payload.
"""

from __future__ import annotations

from typing import Final

from plexio.exceptions import DecodeError
from plexio.typing import JSONValue

__all__ = ["AttachmentCollector", "extract", "has_binary", "is_binary", "reinsert"]

_BINARY: Final = (bytes, bytearray, memoryview)
# Leaves that can never hold binary: skipped without a function call.
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def is_binary(value: object) -> bool:
    """Whether ``value`` is sent as a binary attachment (bytes, bytearray, memoryview)."""
    return isinstance(value, _BINARY)


def _placeholder(num: int) -> dict[str, JSONValue]:
    return {"_placeholder": True, "num": num}


def extract(data: JSONValue) -> tuple[JSONValue, list[bytes]]:
    """Replace every binary value in ``data`` by a numbered placeholder.

    Lists, tuples and dicts are searched at any depth; the input is never modified.
    Containers that hold no binary value are shared, not copied; with no binary
    value at all, ``data`` itself is returned (``result[0] is data``). Tuples on
    the path to a binary value become lists.

    Args:
        data: a JSON-like value that may contain ``bytes``/``bytearray``/``memoryview``.

    Returns:
        ``(new_data, buffers)``: the data with placeholders, and the buffers as
        ``bytes`` in placeholder order.
    """
    buffers: list[bytes] = []
    return _extract(data, buffers), buffers


def _extract(value: JSONValue, buffers: list[bytes]) -> JSONValue:
    kind = type(value)
    if kind is list or kind is tuple:
        out: list[JSONValue] | None = None
        for i, item in enumerate(value):
            if type(item) in _SCALARS:
                continue
            new = _extract(item, buffers)
            if new is not item:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out
    if kind is dict:
        copy: dict[JSONValue, JSONValue] | None = None
        for key, item in value.items():
            if type(item) in _SCALARS:
                continue
            new = _extract(item, buffers)
            if new is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return value if copy is None else copy
    if isinstance(value, _BINARY):
        buffers.append(bytes(value))
        return _placeholder(len(buffers) - 1)
    return value


def has_binary(data: JSONValue) -> bool:
    """Whether ``data`` contains a binary value at any depth (lists, tuples, dicts)."""
    stack = [data]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is list or kind is tuple:
            stack.extend(v for v in value if type(v) not in _SCALARS)
        elif kind is dict:
            stack.extend(v for v in value.values() if type(v) not in _SCALARS)
        elif isinstance(value, _BINARY):
            return True
    return False


class AttachmentCollector:
    """An ``orjson.dumps(default=...)`` hook that turns binary values into placeholders.

    Create one per encoding (it records the buffers of that call)::

        collector = AttachmentCollector()
        text = orjson.dumps(data, default=collector)
        buffers = collector.buffers

    Attributes:
        buffers: the collected buffers, in placeholder order.
    """

    __slots__ = ("buffers",)

    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def __call__(self, value: object) -> dict[str, JSONValue]:
        """Return the placeholder for ``value`` and record it.

        Raises:
            TypeError: ``value`` is not binary (orjson reports it as not serialisable).
        """
        if isinstance(value, _BINARY):
            buffers = self.buffers
            buffers.append(bytes(value))
            return _placeholder(len(buffers) - 1)
        raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def reinsert(data: JSONValue, buffers: list[bytes]) -> JSONValue:
    """Replace the placeholders of a decoded payload by ``buffers``, in place.

    A dict whose ``_placeholder`` member is ``true`` is a placeholder (as in the
    reference decoder). Each buffer must be referenced by exactly one placeholder
    (every encoder produces exactly that), so a packet announcing ``n`` attachments
    carries ``n`` placeholders numbered ``0..n-1``.

    The walk is iterative: a payload nested up to the JSON decoder's depth limit
    cannot exhaust the Python stack.

    Args:
        data: the decoded payload (mutated: it must be owned by the caller).
        buffers: the attachments, in arrival order.

    Returns:
        The payload with the buffers in place (``data`` itself unless ``data`` is
        a placeholder).

    Raises:
        DecodeError: a ``num`` that is not an int, out of range or repeated, or a
            buffer that no placeholder references.
    """
    seen = [False] * len(buffers)
    if type(data) is dict and data.get("_placeholder") is True:
        result: JSONValue = _take(data, buffers, seen)
    else:
        result = data
        kind = type(data)
        stack: list[JSONValue] = [data] if kind is list or kind is dict else []
        while stack:
            node = stack.pop()
            items = enumerate(node) if type(node) is list else node.items()
            for key, child in items:
                kind = type(child)
                if kind is dict:
                    if child.get("_placeholder") is True:
                        node[key] = _take(child, buffers, seen)
                    else:
                        stack.append(child)
                elif kind is list:
                    stack.append(child)
    if not all(seen):
        raise DecodeError(f"{seen.count(False)} binary attachment(s) without a placeholder")
    return result


def _take(placeholder: dict[str, JSONValue], buffers: list[bytes], seen: list[bool]) -> bytes:
    num = placeholder.get("num")
    if type(num) is not int or not 0 <= num < len(buffers):
        raise DecodeError(f"invalid attachment placeholder num {str(num)[:20]!r}")
    if seen[num]:
        raise DecodeError(f"attachment {num} referenced twice")
    seen[num] = True
    return buffers[num]
