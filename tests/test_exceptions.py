"""plexio.exceptions: one root, and the tree its docstring draws."""

from __future__ import annotations

import plexio.exceptions as exceptions
from plexio.exceptions import (
    DecodeError,
    LocalProtocolError,
    PayloadTooLargeError,
    PlexioError,
    ProtocolError,
    RemoteProtocolError,
)


def test_every_public_exception_has_the_one_root() -> None:
    for name in exceptions.__all__:
        value = getattr(exceptions, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, PlexioError), name


def test_blame_is_split_between_local_and_remote() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert issubclass(DecodeError, RemoteProtocolError)
    assert issubclass(PayloadTooLargeError, DecodeError)


def test_the_docstring_draws_every_class_of_the_tree() -> None:
    doc = exceptions.__doc__ or ""
    for name in ("PlexioError", "LocalProtocolError", "RemoteProtocolError", "DecodeError"):
        assert name in doc
