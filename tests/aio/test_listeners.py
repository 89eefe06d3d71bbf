"""plexio.aio.listeners: the registry both socket kinds share."""

from __future__ import annotations

from typing import Any

from plexio.aio.listeners import Listeners


class Thing(Listeners):
    def __init__(self) -> None:
        self._init_listeners()

    def fire(self, event: str, *args: Any) -> list[Any]:
        return [h(*args) for h in list(self._handlers.get(event, ()))]


def test_on_once_off() -> None:
    thing = Thing()
    calls: list[str] = []

    @thing.on("a")
    def first(x: str) -> str:
        calls.append("first " + x)
        return "r1"

    thing.once("a", lambda x: calls.append("once " + x))
    assert thing.fire("a", "1") == ["r1", None]
    thing.fire("a", "2")
    assert calls == ["first 1", "once 1", "first 2"]
    thing.off("a", first)
    assert thing.fire("a", "3") == []
    thing.on("b", first)
    thing.on("c", first)
    thing.off("b")
    assert thing.fire("b", "x") == [] and thing.fire("c", "y") == ["r1"]
    thing.off()
    assert thing.fire("c", "z") == []
    thing.off("missing", first)  # nothing to remove: no error


def test_once_is_removed_by_its_function_and_passes_keywords() -> None:
    thing = Thing()
    calls: list[Any] = []

    def handler(x: str, *, ack: str = "-") -> None:
        calls.append((x, ack))

    thing.once("a", handler)
    thing.off("a", handler)  # as Node: off(event, fn) removes the once listener
    assert thing.fire("a", "1") == []
    thing.once("a", handler)
    (registered,) = thing.listeners("a")
    assert registered == handler and hash(registered) == hash(handler)
    registered("2", ack="yes")
    registered("3")  # a caller holding it may still call it: it is no longer registered
    assert calls == [("2", "yes"), ("3", "-")] and thing.listeners("a") == []


def test_any_listeners() -> None:
    thing = Thing()

    def one(*a: Any) -> None: ...

    def two(*a: Any) -> None: ...

    thing.on_any(one)
    thing.prepend_any(two)
    assert thing.listeners_any() == [two, one]
    thing.off_any(one)
    thing.off_any(one)
    assert thing.listeners_any() == [two]
    thing.off_any()
    assert thing.listeners_any() == []
    thing.on_any_outgoing(one)
    thing.on_any_outgoing(two)
    thing.off_any_outgoing(two)
    assert thing.listeners_any_outgoing() == [one]
    thing.off_any_outgoing()
    assert thing.listeners_any_outgoing() == []
