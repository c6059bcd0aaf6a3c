"""director.text: the normalisation applied where text enters Director."""

from __future__ import annotations

import json

from director.text import clean_strings, clean_text


def test_lone_surrogates_become_replacement_characters_and_nul_goes():
    cleaned = clean_text("bad \udfff and \ud83d alone\x00!")
    assert cleaned == "bad \ufffd and \ufffd alone!"
    cleaned.encode("utf-8")  # what SQLite, PostgreSQL and the OpenAI SDK need


def test_valid_text_is_unchanged():
    text = "naïve café 😀 日本語 \t\n"
    assert clean_text(text) == text


def test_a_browser_escaped_lone_surrogate_from_json_is_cleaned():
    # What JSON.stringify sends for a lone surrogate, and what json.loads makes of it.
    decoded = json.loads('{"content": "x\\udfff", "pair": "\\ud83d\\ude00"}')
    assert clean_strings(decoded) == {"content": "x\ufffd", "pair": "😀"}


def test_clean_strings_walks_keys_lists_and_leaves_other_values():
    value = {"k\x00": ["a\udc00", 1, None, {"n": 2.5, "t": ("x\ud800",)}]}
    assert clean_strings(value) == {"k": ["a\ufffd", 1, None, {"n": 2.5, "t": ["x\ufffd"]}]}
