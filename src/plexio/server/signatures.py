"""What an event handler's signature asks for, read once when it is registered (layer L3).

Most handlers are plain: ``handler(socket, *args)``, the return value acknowledges the
event, and nothing here is consulted when they run (the dispatcher checks one empty
dict). A handler is *special* when

* a parameter is annotated :class:`Ack`: it receives the acknowledgement function
  itself (call it later, from another task, with several values, or never) and its
  return value no longer acknowledges anything; or
* a parameter is annotated with a pydantic model, a dataclass or a ``TypedDict``:
  the argument in that position is validated (and converted) before the handler runs;
  a failed validation is answered with an error acknowledgement and the handler is not
  called (see :func:`validation_error`). Needs pydantic (``plexio[pydantic]``).

Wrong signatures fail at registration with a message, never at run time. A ``once``
handler (:class:`plexio.aio.listeners.Once`) is read as the function it wraps.

Namespace-level handlers are registered for good (they live as long as their
namespace); a socket-level one is *held* by its socket (:func:`hold`) and released when
the socket ends (:func:`release`), so that a handler defined per connection does not
stay in the registry, with the socket it closes over, after its socket is gone.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Final, TypeAlias, cast

from plexio.typing import JSONValue

if TYPE_CHECKING:
    import pydantic
    from typing_extensions import TypeForm

    #: A type an argument or an answer is checked against (a class, a model, a
    #: ``TypedDict``, ``list[int]``...): anything pydantic's ``TypeAdapter`` takes.
    TypeSpec: TypeAlias = TypeForm[object]

from plexio.aio.listeners import Once

try:  # also recognises typing_extensions.TypedDict (what pydantic needs on 3.11)
    from typing_extensions import is_typeddict
except ImportError:  # pragma: no cover - typing_extensions comes with pydantic
    from typing import is_typeddict

__all__ = [
    "Ack",
    "HandlerSpec",
    "OutgoingSpec",
    "check_callable_with",
    "check_reply",
    "hold",
    "release",
    "outgoing_spec",
    "PayloadValidationError",
    "spec_for",
    "special_handlers",
    "validation_error",
]

logger = logging.getLogger(__name__)

#: One validation error as sent to the client: ``{"loc": [...], "msg": ..., "type": ...}``.
ErrorDetail: TypeAlias = dict[str, JSONValue]


class Ack:
    """The acknowledgement of one received event, for a handler that takes it.

    Declare a parameter annotated ``Ack`` and plexio passes it (by keyword)::

        @sio.on("job")
        async def job(socket: ServerSocket, spec: dict, ack: Ack) -> None:
            ack("queued")                  # wire: [ack id, "queued"]
            ...

    Calling it sends the ACK packet with exactly the values given: ``ack()`` sends no
    argument, ``ack(None)`` sends ``[null]`` (as Node's ``ack(null)``), ``ack(a, b)``
    two. Only the first call sends; later ones are ignored (as in Node). When the
    client did not ask for an acknowledgement, :attr:`requested` is false and calling
    it does nothing.
    """

    __slots__ = ("_send", "sent")

    def __init__(self, send: Callable[[list[JSONValue]], None] | None) -> None:
        self._send = send
        self.sent = False

    @property
    def requested(self) -> bool:
        """Whether the client asked for an acknowledgement of this event."""
        return self._send is not None

    def __call__(self, *args: JSONValue) -> None:
        send = self._send
        if send is None or self.sent:
            if self.sent:
                logger.debug("acknowledgement already sent; a second call is ignored")
            return
        self.sent = True
        send(list(args))


class PayloadValidationError(ValueError):
    """An event's argument did not match the handler's annotation.

    Attributes:
        event: the event name.
        position: the argument's index among the event's arguments.
        errors: pydantic's error list (``loc``, ``msg``, ``type``), JSON-able.
    """

    def __init__(self, event: str, position: int, errors: list[ErrorDetail]) -> None:
        self.event = event
        self.position = position
        self.errors = errors
        first = errors[0] if errors else {"msg": "invalid", "loc": ()}
        loc = first.get("loc", ())
        where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else ""
        where = where or "value"
        super().__init__(f"{event}: argument {position}: {where}: {first.get('msg')}")


def validation_error(exc: PayloadValidationError) -> dict[str, JSONValue]:
    """The acknowledgement sent for a payload that failed validation.

    ``{"ok": false, "error": {"code": "invalid_payload", "message": ..., "details":
    [{"loc": [...], "msg": ..., "type": ...}, ...]}}``: the same shape as the
    community gateway's error acknowledgements.
    """
    return {
        "ok": False,
        "error": {
            "code": "invalid_payload",
            "message": str(exc),
            "details": exc.errors,
        },
    }


#: Checks one argument and returns it converted (a dict becomes its model).
Validator: TypeAlias = Callable[[JSONValue], object]


@dataclasses.dataclass(frozen=True, slots=True)
class HandlerSpec:
    """What a special handler asks for.

    Attributes:
        ack_param: the name of the parameter that receives the :class:`Ack`, if any.
        validators: by argument index (after the socket, if any), a function that
            validates and converts that argument (raising ``PayloadValidationError``).
    """

    ack_param: str | None
    validators: tuple[tuple[int, Validator], ...]


#: Special handlers by function; plain handlers are not in it, so while none is special
#: the dispatcher's check is one test of an empty dict. A plain dict (a C-level check on
#: the hot path): namespace-level handlers live as long as their namespace anyway.
_SPECIAL: Final[dict[Callable[..., object], HandlerSpec]] = {}


#: Special handlers registered by sockets only, with how many registrations hold each.
_HELD: Final[dict[Callable[..., object], int]] = {}


def special_handlers() -> dict[Callable[..., object], HandlerSpec]:
    """The registry the dispatcher reads (empty while no handler is special)."""
    return _SPECIAL


def _is_model(tp: object) -> bool:
    if not isinstance(tp, type):
        return False
    if dataclasses.is_dataclass(tp) or is_typeddict(tp):
        return True
    return any(
        base.__module__.startswith("pydantic") and base.__name__ == "BaseModel"
        for base in tp.__mro__
    )


def _registering_frame_locals() -> dict[str, object] | None:
    """The local names of the code registering the handler (the first frame outside
    plexio): a model defined in a function, named in a string annotation."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("plexio."):
        frame = frame.f_back  # type: ignore[assignment]
    return dict(frame.f_locals) if frame is not None else None


def _hints(fn: Callable[..., object]) -> dict[str, TypeSpec]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        pass
    try:
        # ``from __future__ import annotations`` and a model defined in a function
        return typing.get_type_hints(fn, localns=_registering_frame_locals())
    except Exception as exc:
        raw = getattr(fn, "__annotations__", {})
        if any(value not in ("Ack", "plexio.Ack") for value in raw.values()):
            logger.warning(
                "handler %s: its annotations cannot be resolved (%s), so its payloads "
                "are not validated",
                getattr(fn, "__qualname__", fn),
                exc,
            )
        # only the plain spelling of Ack can be recognised then
        return {
            name: Ack
            for name, value in raw.items()
            if value is Ack or value in ("Ack", "plexio.Ack")
        }


def _validator(tp: TypeSpec, event: str, position: int) -> Validator:
    try:
        import pydantic
    except ImportError:
        raise TypeError(
            f"the handler of {event!r} annotates argument {position} with "
            f"{getattr(tp, '__name__', tp)}: validating payloads needs pydantic: "
            "pip install 'plexio[pydantic]'"
        ) from None
    adapter: pydantic.TypeAdapter[object] = pydantic.TypeAdapter(tp)

    def validate(value: JSONValue) -> object:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            raise PayloadValidationError(event, position, _details(exc)) from None

    return validate


def _details(exc: pydantic.ValidationError) -> list[ErrorDetail]:
    """pydantic's errors, JSON-able and without the input or its context."""
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def spec_for(fn: Callable[..., object], event: str, *, skip: int) -> HandlerSpec | None:
    """Reads ``fn``'s signature; registers and returns its spec if it is special.

    Args:
        fn: the handler.
        event: the event name (for messages).
        skip: leading parameters that are not event arguments (1 for the socket of a
            namespace-level handler, 0 for a socket-level one).

    Raises:
        TypeError: an ``Ack`` parameter that cannot be passed by keyword, more than
            one, or a model annotation without pydantic installed.
    """
    if isinstance(fn, Once):
        fn = fn.fn
    spec = _spec_for(fn, event, skip)
    if spec is not None:
        _HELD.pop(fn, None)  # registered for good now
    return spec


def hold(fn: Callable[..., object], event: str) -> HandlerSpec | None:
    """:func:`spec_for` of a socket-level handler (no socket parameter), held until
    :func:`release`: the socket calls it for each handler it registered when it ends."""
    if isinstance(fn, Once):
        fn = fn.fn
    try:
        for_good = fn in _SPECIAL and fn not in _HELD
    except TypeError:  # not hashable: never special
        return None
    spec = _spec_for(fn, event, 0)
    if spec is not None and not for_good:
        _HELD[fn] = _HELD.get(fn, 0) + 1
    return spec


def release(fn: Callable[..., object]) -> None:
    """A socket that held ``fn`` (:func:`hold`) ended: forgotten with its last holder."""
    if isinstance(fn, Once):
        fn = fn.fn
    try:
        count = _HELD.get(fn)
    except TypeError:
        return
    if count is None:
        return
    if count > 1:
        _HELD[fn] = count - 1
    else:
        del _HELD[fn]
        _SPECIAL.pop(fn, None)


def _spec_for(fn: Callable[..., object], event: str, skip: int) -> HandlerSpec | None:
    try:
        known = _SPECIAL.get(fn)
    except TypeError:  # not hashable: never special
        return None
    if known is not None:
        return known
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    hints = _hints(fn)
    if not hints:
        return None
    ack_param: str | None = None
    validators: list[tuple[int, Validator]] = []
    position = 0
    for index, param in enumerate(params):
        hint = hints.get(param.name)
        if hint is Ack:
            if ack_param is not None:
                raise TypeError(f"the handler of {event!r} takes two Ack parameters")
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise TypeError(
                    f"the handler of {event!r}: the Ack parameter {param.name!r} must be "
                    "a normal or keyword-only parameter (it is passed by keyword)"
                )
            ack_param = param.name
            continue
        if index < skip or param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if hint is not None and _is_model(hint):
            validators.append((position, _validator(hint, event, position)))
        position += 1
    if ack_param is None and not validators:
        return None
    spec = HandlerSpec(ack_param, tuple(validators))
    _SPECIAL[fn] = spec
    return spec


def check_callable_with(fn: Callable[..., object], count: int, what: str, right: str) -> None:
    """Refuses, at registration, a callable that cannot take ``count`` positional arguments.

    Args:
        fn: what is being registered.
        count: how many positional arguments plexio will pass.
        what: what it is registered as (for the message).
        right: the right signature, shown in the message.

    Raises:
        TypeError: naming the right signature.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check
    try:
        signature.bind(*([None] * count))
    except TypeError:
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"{what}: {name}{signature} cannot be called as {right}. {_HINTS.get(what, '')}"
        ) from None


_HINTS = {
    "socket.use": (
        "There is no next(): return to let the packet through (it may be changed in "
        "place), raise to refuse it (the socket's 'error' handlers get the exception)."
    ),
    "namespace.use": (
        "There is no next(): return to accept the client, raise ConnectRefusedError("
        "message, data) to refuse it (the client gets connect_error)."
    ),
    "engine handler": "",
}


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingSpec:
    """A declared outgoing event: the type of each of its arguments.

    Attributes:
        event: the event name.
        converters: per argument, a function validating it against its declared type
            and returning its JSON form (a model or dataclass instance becomes a dict).
    """

    event: str
    converters: tuple[Callable[[object, int], JSONValue], ...]

    def prepare(self, args: tuple[object, ...]) -> tuple[JSONValue, ...]:
        """The arguments checked and in JSON form.

        Raises:
            PayloadValidationError: an argument does not fit its declared type (or the
                count differs): a bug in the emitting code, reported where it emits.
        """
        if len(args) != len(self.converters):
            raise PayloadValidationError(
                self.event,
                len(args),
                [
                    {
                        "loc": [],
                        "msg": f"declared with {len(self.converters)} argument(s), "
                        f"emitted with {len(args)}",
                        "type": "arguments",
                    }
                ],
            )
        return tuple(
            convert(arg, i)
            for i, (convert, arg) in enumerate(zip(self.converters, args, strict=True))
        )


def outgoing_spec(event: str, types: tuple[TypeSpec, ...]) -> OutgoingSpec:
    """Builds the :class:`OutgoingSpec` of ``event`` (needs pydantic).

    Raises:
        TypeError: pydantic is not installed.
    """
    try:
        import pydantic
    except ImportError:
        raise TypeError(
            f"declaring the arguments of {event!r} needs pydantic: pip install 'plexio[pydantic]'"
        ) from None

    def converter(tp: TypeSpec) -> Callable[[object, int], JSONValue]:
        adapter: pydantic.TypeAdapter[object] = pydantic.TypeAdapter(tp)

        def convert(value: object, position: int) -> JSONValue:
            try:
                return adapter.dump_python(adapter.validate_python(value), mode="json")
            except pydantic.ValidationError as exc:
                raise PayloadValidationError(event, position, _details(exc)) from None

        return convert

    return OutgoingSpec(event, tuple(converter(tp) for tp in types))


@functools.lru_cache(maxsize=256)
def _reply_adapter(tp: Hashable) -> pydantic.TypeAdapter[object]:
    import pydantic

    return pydantic.TypeAdapter(cast("TypeSpec", tp))  # the type form check_reply was given


def check_reply(event: str, value: JSONValue, tp: TypeSpec) -> object:
    """An acknowledgement's value checked against ``returns=tp`` (and converted: a dict
    becomes the model or dataclass it should be).

    With pydantic installed, anything pydantic knows; without it, plain classes are
    checked with ``isinstance``.

    Raises:
        PayloadValidationError: the value does not fit.
        TypeError: ``tp`` needs pydantic, which is not installed.
    """
    try:
        adapter = _reply_adapter(cast("Hashable", tp))  # every type form is hashable
    except ImportError:
        if isinstance(tp, type) and not _is_model(tp):
            if isinstance(value, tp):
                return value
            mismatch: list[ErrorDetail] = [
                {"loc": [], "msg": f"expected {tp.__name__}", "type": "type"}
            ]
            raise PayloadValidationError(event, 0, mismatch) from None
        raise TypeError(f"returns={tp!r} needs pydantic: pip install 'plexio[pydantic]'") from None
    import pydantic

    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as exc:
        raise PayloadValidationError(f"{event} (acknowledgement)", 0, _details(exc)) from None
