"""The HAR timeline: packets decoded, events in time order, the five steps numbered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from topology.har import decode_engine_payload, describe_packet, main, render, timeline

URL = "http://127.0.0.1:1/socket.io/?EIO=4&transport="


def _entry(method: str, transport: str, start_ms: float, wait_ms: float, **bodies: str) -> Any:
    stamp = f"2026-01-01T00:00:{start_ms / 1000:06.3f}Z"
    request: dict[str, Any] = {"method": method, "url": URL + transport}
    if "sent" in bodies:
        request["postData"] = {"text": bodies["sent"]}
    return {
        "startedDateTime": stamp,
        "time": wait_ms + 5,
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": wait_ms},
        "request": request,
        "response": {"status": 200, "content": {"text": bodies.get("got", "")}},
    }


def _har() -> dict[str, Any]:
    connects = "40/socket/commu-1,{}\x1e40/socket/commu-2,{}"
    replies = '40/socket/commu-1,{"sid":"a"}\x1e40/socket/commu-2,{"sid":"b"}'
    ws = _entry("GET", "websocket&sid=x", 120, 0)
    ws["timings"]["wait"] = -1
    ws["_webSocketMessages"] = [
        {"type": "send", "time": 1767225600.130, "opcode": 1, "data": "2probe"},
        {"type": "receive", "time": 1767225600.180, "opcode": 1, "data": "3probe"},
        {"type": "send", "time": 1767225600.200, "opcode": 1, "data": "5"},
    ]
    return {
        "log": {
            "entries": [
                _entry("GET", "polling", 0, 50, got='0{"sid":"x","upgrades":["websocket"]}'),
                _entry("POST", "polling&sid=x", 60, 50, sent=connects, got="ok"),
                _entry("GET", "polling&sid=x", 61, 100, got=replies),
                ws,
                {"request": {"method": "GET", "url": "http://127.0.0.1:1/page.html"}},
            ]
        }
    }


def test_packets_are_described() -> None:
    assert describe_packet("40/socket/commu-1,{}", upstream=True) == "CONNECT /socket/commu-1"
    assert describe_packet('40/socket,{"sid":"a"}', upstream=False) == "CONNECT ok /socket"
    assert describe_packet('42/socket,7["subscribe",[1]]', True) == "EVENT subscribe /socket ack=7"
    assert describe_packet("43/socket,7[{}]", False) == "ACK /socket ack=7"
    assert describe_packet('44/socket,{"message":"no"}', False) == "CONNECT_ERROR /socket"
    assert describe_packet("41/socket,", True) == "DISCONNECT /socket"
    assert describe_packet('0{"sid":"abc"}', False) == "open sid=abc"
    assert describe_packet("2probe", True) == "ping probe"
    assert describe_packet("6", False) == "noop"
    assert decode_engine_payload("4a\x1e4b") == ["4a", "4b"]
    assert decode_engine_payload("") == []


def test_the_timeline_orders_requests_replies_and_frames() -> None:
    events = timeline(_har())
    summary = [(e.t_ms, e.channel, e.direction, e.step) for e in events]
    assert summary == [
        (0.0, "GET#1", "→", 0),
        (50.0, "GET#1", "←", 1),
        (60.0, "POST#2", "→", 2),
        (61.0, "GET#3", "→", 0),
        (110.0, "POST#2", "←", 0),
        (120.0, "WS", "→", 0),
        (130.0, "WS", "→", 4),
        (161.0, "GET#3", "←", 3),
        (180.0, "WS", "←", 0),
        (200.0, "WS", "→", 5),
    ]
    post = events[2]
    assert post.packets == ("40/socket/commu-1,{}", "40/socket/commu-2,{}")
    text = render(events)
    assert "CONNECT /socket/commu-1, CONNECT /socket/commu-2" in text
    assert "CONNECT ok /socket/commu-1, CONNECT ok /socket/commu-2" in text


def test_show_prints_a_saved_har(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.har"
    path.write_text(json.dumps(_har()))
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "POST#2" in out and "upgrade" in out
