"""Event listener registries shared by server and client sockets (layer L2).

The JavaScript API in snake_case: ``on``, ``once``, ``off``, ``on_any``,
``prepend_any``, ``off_any``, ``on_any_outgoing``, ``off_any_outgoing``, ``listeners``,
``listeners_any``, ``listeners_any_outgoing``. A class using
:class:`Listeners` calls :meth:`Listeners._init_listeners` in its ``__init__`` and
reads ``_handlers``, ``_any`` and ``_any_out`` when it dispatches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

from plexio.typing import EventName, HandlerT, JSONValue, UserCallback

__all__ = ["Listeners", "Once"]


class Once:
    """A listener that, at its first call, removes itself and then calls ``fn``.

    Equal to ``fn`` (and hashed as it): ``off(event, fn)`` removes it, as Node's
    ``off`` removes a ``once`` listener by its function, and a registry keyed by
    ``fn`` (the server's special handlers: an :class:`~plexio.Ack` parameter,
    validated payloads) finds what ``fn`` asks for. Keywords pass through.
    """

    __slots__ = ("fn", "_remove")

    def __init__(self, fn: UserCallback, remove: Callable[[Once], None]) -> None:
        self.fn = fn
        self._remove = remove

    def __call__(self, *args: JSONValue, **kwargs: object) -> object:
        self._remove(self)
        return self.fn(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Once):
            return other is self
        return bool(self.fn == other)

    def __hash__(self) -> int:
        return hash(self.fn)

    def __repr__(self) -> str:
        return f"<Once {self.fn!r}>"


_K = TypeVar("_K")


def without(handlers: dict[_K, list[UserCallback]], event: _K, listener: UserCallback) -> None:
    """Removes ``listener`` (by identity) from ``handlers[event]``, copying the list: a
    dispatch iterating the old one is not disturbed."""
    current = handlers.get(event)
    if current is not None:
        handlers[event] = [h for h in current if h is not listener]


class Listeners:
    """Per-socket handler registry (a base class holding the three registries)."""

    __slots__ = ("_handlers", "_any", "_any_out")

    def _init_listeners(self) -> None:
        self._handlers: dict[EventName, list[UserCallback]] = {}
        # Catch-all listeners are rare: an empty tuple (shared) until the first one, then
        # a new tuple per change (what dispatch iterates is never changed under it).
        self._any: tuple[UserCallback, ...] = ()
        self._any_out: tuple[UserCallback, ...] = ()

    @overload
    def on(self, event: EventName) -> Callable[[HandlerT], HandlerT]: ...

    @overload
    def on(self, event: EventName, handler: HandlerT) -> HandlerT: ...

    def on(
        self, event: EventName, handler: UserCallback | None = None
    ) -> UserCallback | Callable[[UserCallback], UserCallback]:
        """Registers ``handler(*args)`` for an event (usable as a decorator).

        A handler's return value (a tuple for several values) acknowledges the
        event when the peer asked for an ack. Reserved events are documented on the
        socket class.
        """

        def register(fn: UserCallback) -> UserCallback:
            self._registering(event, fn)
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def _registering(self, event: EventName, handler: UserCallback) -> None:
        """Called by :meth:`on` (and so :meth:`once`) before ``handler`` is added: what
        a subclass reads from a handler when it is registered (nothing here)."""

    @overload
    def once(self, event: EventName) -> Callable[[HandlerT], HandlerT]: ...

    @overload
    def once(self, event: EventName, handler: HandlerT) -> HandlerT: ...

    def once(
        self, event: EventName, handler: UserCallback | None = None
    ) -> UserCallback | Callable[[UserCallback], UserCallback]:
        """Like :meth:`on` (it goes through :meth:`on`, with what a subclass adds
        there), but the handler is removed at its first call; ``off(event, handler)``
        removes it before that."""

        def register(fn: UserCallback) -> UserCallback:
            self.on(event, Once(fn, lambda once: without(self._handlers, event, once)))
            return fn

        return register if handler is None else register(handler)

    def off(self, event: EventName | None = None, handler: UserCallback | None = None) -> None:
        """Removes one handler, every handler of an event, or every handler."""
        if event is None:
            self._handlers.clear()
        elif handler is None:
            self._handlers.pop(event, None)
        else:
            handlers = self._handlers.get(event, [])
            if handler in handlers:
                handlers.remove(handler)

    def on_any(self, listener: HandlerT) -> HandlerT:
        """Calls ``listener(event, *args)`` for every incoming event."""
        self._any = (*self._any, listener)
        return listener

    def prepend_any(self, listener: HandlerT) -> HandlerT:
        """Like :meth:`on_any`, but called before the others."""
        self._any = (listener, *self._any)
        return listener

    def off_any(self, listener: UserCallback | None = None) -> None:
        """Removes a catch-all listener, or all of them."""
        if listener is None:
            self._any = ()
        elif listener in self._any:
            self._any = _without(self._any, listener)

    def on_any_outgoing(self, listener: HandlerT) -> HandlerT:
        """Calls ``listener(event, *args)`` for every event this socket emits."""
        self._any_out = (*self._any_out, listener)
        return listener

    def off_any_outgoing(self, listener: UserCallback | None = None) -> None:
        """Removes an outgoing catch-all listener, or all of them."""
        if listener is None:
            self._any_out = ()
        elif listener in self._any_out:
            self._any_out = _without(self._any_out, listener)

    def listeners(self, event: EventName) -> list[UserCallback]:
        """The handlers of ``event``, in call order (a copy)."""
        return list(self._handlers.get(event, ()))

    def listeners_any(self) -> list[UserCallback]:
        """The catch-all listeners of incoming events, in call order (a copy)."""
        return list(self._any)

    def listeners_any_outgoing(self) -> list[UserCallback]:
        """The catch-all listeners of emitted events, in call order (a copy)."""
        return list(self._any_out)


def _without(
    listeners: tuple[UserCallback, ...], listener: UserCallback
) -> tuple[UserCallback, ...]:
    """``listeners`` without the first occurrence of ``listener``."""
    index = listeners.index(listener)
    return listeners[:index] + listeners[index + 1 :]
