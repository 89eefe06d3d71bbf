"""Text values under the limits (community/services/rules.py): no database needed."""

from __future__ import annotations

import pytest
from community.errors import InvalidInput
from community.services.rules import TextRules, is_clean, is_username, normalize_username
from community.settings import Limits

RULES = TextRules(Limits(message_max_length=10, name_max_length=8, client_id_max_length=4))


def test_clean_strings_hold_no_nul_and_no_lone_surrogate() -> None:
    assert is_clean("héllo ✓")
    assert not is_clean("a\x00b")
    assert not is_clean("\ud800")


def test_usernames_are_normalized_then_checked() -> None:
    assert normalize_username("  Alice ") == "alice"
    assert RULES.username(" Alice.B ") == "alice.b"
    assert is_username("abc") and not is_username("ab") and not is_username("-abc")
    for bad in ("ab", "a b c", "-abc", "x" * 33, "é" * 4):
        with pytest.raises(InvalidInput):
            RULES.username(bad)


def test_channel_names_are_lower_cased_with_dashes_for_blanks() -> None:
    assert RULES.channel_name("  My  Room ") == "my-room"
    for bad in ("", "   ", "a.b", "x" * 9, "a\x00"):
        with pytest.raises(InvalidInput):
            RULES.channel_name(bad)


def test_bodies_keep_their_blanks_and_obey_the_limit() -> None:
    assert RULES.body("  hi  ") == "  hi  "
    assert RULES.body("x" * 10) == "x" * 10
    for bad in ("", " \n ", "x" * 11, "\x00", "\ud800"):
        with pytest.raises(InvalidInput):
            RULES.body(bad)


def test_one_line_values_refuse_control_characters() -> None:
    assert RULES.client_id("k-1") == "k-1"
    assert RULES.name(" Lounge ") == "Lounge"
    for check, bad in [
        (RULES.client_id, "a\nb"),
        (RULES.client_id, "12345"),
        (RULES.name, "a\tb"),
        (RULES.display_name, "x\x85x"),
    ]:
        with pytest.raises(InvalidInput):
            check(bad)
    # Descriptions may span lines.
    assert RULES.description(" one\ntwo ", "topic") == "one\ntwo"


def test_page_sizes_default_and_stop_at_the_maximum() -> None:
    assert TextRules.page_size(None, 50, 100) == 50
    assert TextRules.page_size(100, 50, 100) == 100
    with pytest.raises(InvalidInput, match="between 1 and 100"):
        TextRules.page_size(101, 50, 100)


def test_passwords_obey_the_length_limits() -> None:
    rules = TextRules(Limits(password_min_length=3, password_max_length=5))
    assert rules.password("abcd") == "abcd"
    for bad in ("ab", "abcdef", "ab\x00"):
        with pytest.raises(InvalidInput):
            rules.password(bad)
