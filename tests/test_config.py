"""plexio.config: option records with a default for every limit, checked when made."""

from __future__ import annotations

import dataclasses

import pytest

from plexio.config import EngineOptions, Limits
from plexio.enums import Transport


def test_defaults_are_usable_and_frozen() -> None:
    options = EngineOptions()
    assert options.ping_interval > 0 and options.limits == Limits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.ping_interval = 1  # type: ignore[misc]  # the point of the test


def test_transports_are_members_even_when_given_by_name() -> None:
    assert EngineOptions().transports == (Transport.POLLING, Transport.WEBSOCKET)
    names = EngineOptions(transports=("websocket",))  # type: ignore[arg-type]  # a name
    assert names.transports == (Transport.WEBSOCKET,)
    assert type(names.transports[0]) is Transport


@pytest.mark.parametrize(
    "bad",
    [
        {"ping_interval": 0},
        {"ping_timeout": -1},
        {"transports": ()},
        {"transports": ("carrier-pigeon",)},
        {"max_buffered_bytes": 0},
    ],
    ids=str,
)
def test_bad_engine_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EngineOptions(**bad)  # type: ignore[arg-type]  # deliberately wrong values


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
def test_every_limit_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})
