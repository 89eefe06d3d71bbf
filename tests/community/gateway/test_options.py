"""Gateway options and their environment variables (community/gateway/options.py)."""

from __future__ import annotations

import re

import pytest
from community.gateway.options import GatewayEnvironment, GatewayOptions

VARIABLES = ("COMMUNITY_CORS_ORIGINS", "COMMUNITY_MAX_PAYLOAD", "REDIS_URL")


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A monkeypatch whose environment starts without any of the gateway variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "socket.io"},
        {"path": "/api/"},
        {"path": "/"},
        {"ping_interval": 0},
        {"ping_timeout": -1.0},
        {"max_payload_bytes": 10},
        {"max_buffered_bytes": True},
        {"request_burst": 0},
        {"request_rate": 0.0},
        {"typing_interval": -1.0},
    ],
)
def test_bad_gateway_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="GatewayOptions"):
        GatewayOptions(**kwargs)  # type: ignore[arg-type]


def test_unset_and_blank_variables_give_the_defaults(environ: pytest.MonkeyPatch) -> None:
    assert GatewayOptions.from_env() == GatewayOptions()
    for name in VARIABLES:
        environ.setenv(name, "  ")
    assert GatewayOptions.from_env() == GatewayOptions()
    assert GatewayOptions().cors_allowed_origins is None
    assert GatewayOptions().max_payload_bytes == 64 * 1024
    assert GatewayOptions().redis_url is None


def test_variables_set_their_options(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("COMMUNITY_CORS_ORIGINS", " http://a.test, ,http://b.test ")
    environ.setenv("COMMUNITY_MAX_PAYLOAD", " 2048 ")
    environ.setenv("REDIS_URL", " redis://127.0.0.1:6390/0 ")
    options = GatewayOptions.from_env()
    assert options.cors_allowed_origins == ("http://a.test", "http://b.test")
    assert options.max_payload_bytes == 2048
    assert options.redis_url == "redis://127.0.0.1:6390/0"
    assert options == GatewayOptions(
        cors_allowed_origins=("http://a.test", "http://b.test"),
        max_payload_bytes=2048,
        redis_url="redis://127.0.0.1:6390/0",
    )


def test_origins_are_never_read_as_json(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("COMMUNITY_CORS_ORIGINS", '["http://a.test"]')
    assert GatewayEnvironment.read().cors_allowed_origins == ('["http://a.test"]',)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COMMUNITY_MAX_PAYLOAD", "lots", "valid integer"),
        ("COMMUNITY_MAX_PAYLOAD", "12", "greater than or equal to 1024"),
        ("COMMUNITY_MAX_PAYLOAD", "2048.5", "valid integer"),
    ],
)
def test_a_bad_value_names_its_variable(
    name: str, value: str, message: str, environ: pytest.MonkeyPatch
) -> None:
    environ.setenv(name, value)
    expected = f"^invalid environment: {name}: .*{message}.*, got {re.escape(repr(value))}$"
    with pytest.raises(ValueError, match=expected):
        GatewayOptions.from_env()


def test_every_bad_variable_is_named(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("COMMUNITY_MAX_PAYLOAD", "x")
    environ.setenv("COMMUNITY_TOKEN_TTL", "y")  # another class's variable: not read here
    with pytest.raises(ValueError) as raised:
        GatewayEnvironment.read()
    assert str(raised.value).count("COMMUNITY_MAX_PAYLOAD") == 1
    assert "COMMUNITY_TOKEN_TTL" not in str(raised.value)
