"""Phone masking (contract.pii): every common way of writing a mainland mobile number, and what is not one."""

from __future__ import annotations

import pytest

from ecc.contract import pii

PHONE_FORMS = [
    "13812341234", "+86 138 1234 1234", "138-1234-1234", "138.1234.1234", "(138)1234-1234",
    "138 1234 1234", "１３８１２３４１２３４", "+8613812341234", "008613812341234", "8613812341234",
    "+86-138-1234-1234", "(+86) 138 1234 1234", "0086 138 1234 1234", "138_1234_1234", "138 - 1234 - 1234",
    "１３８－１２３４－１２３４", "（１３８）１２３４－１２３４",
    "138\u00a01234\u00a01234", "138\u30001234\u30001234",
    "+86 (138) 1234 1234", "138 1234-1234",
]


@pytest.mark.parametrize("form", PHONE_FORMS)
def test_every_form_is_found_and_masked(form):
    assert pii.find_phones(form) == [form]
    assert pii.mask_text(form) == "138****1234"
    assert pii.mask_text(f"电话{form}。") == "电话138****1234。"
    assert pii.mask_text(f"call {form} now") == "call 138****1234 now"


@pytest.mark.parametrize("text, masked", [
    ("138.1111.0013", "138****0013"),  # the rejected-line forms
    ("(138)1111-0039", "138****0039"),
    ("L13812341234", "L138****1234"),  # glued to letters: an id built from a phone is still a phone
    ("a,13812341234,13912341234", "a,138****1234,139****1234"),
    ("13812341234.00", "138****1234.00"),  # in free text a decimal point does not hide the number
    ("19912345678", "199****5678"),
])
def test_masking_in_context(text, masked):
    assert pii.mask_text(text) == masked
    assert pii.find_phones(pii.mask_text(text)) == []  # idempotent: a masked form is not a phone


@pytest.mark.parametrize("text", [
    "123138123412345",  # 11 digits inside a 15-digit id
    "1795300000000",  # epoch milliseconds
    "12012341234",  # no mobile range starts 10/11/12
    "Labc138-00000001",  # the simulator's ids: 3 digits, a dash, 8 digits is no phone form
    "1381234123",  # 10 digits
    "138****1234",
    "2026-11-21T09:30:05+08:00",
    "50000.00",
    "l-9f1c2e-00000001",
])
def test_not_phones(text):
    assert pii.find_phones(text) == []
    assert pii.mask_text(text) == text


def test_normalise_phone_forms():
    forms = ("+86 138-1234-1234", "１３８１２３４１２３４", "008613812341234", "(138)1234.1234",
             "8613812341234")
    for form in forms:
        assert pii.normalise_phone(form) == "13812341234", form
    with pytest.raises(pii.PhoneError):
        pii.normalise_phone("12ab")


def test_hash_needs_a_key():
    with pytest.raises(pii.PhoneError, match="ECC_PHONE_HASH_KEY"):
        pii.hash_phone("13812341234", "")


def test_no_default_key_in_the_package():
    """The masked form leaves 10^4 candidates: a key written in the code would make every hash reversible
    (finding 5). No module may carry one, and Settings has none."""
    from pathlib import Path

    from ecc.config import Settings

    assert Settings().phone_hash_key == ""
    package = Path(pii.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "change-me" not in text and "dev-key" not in text, path


def test_a_masked_phone_with_a_known_key_is_reversible():
    """Why the key must be secret: with the key, 10^4 tries recover the number from its masked form."""
    key = "known"
    target = pii.hash_phone("13812345678", key)
    found = [f"138{m:04d}5678" for m in range(10_000) if pii.hash_phone(f"138{m:04d}5678", key) == target]
    assert found == ["13812345678"]


def test_machine_tokens_are_not_phones():
    """HMACs and uuid4().hex hold 11 digits in a row about once in a thousand: not a phone, not masked."""
    tokens = ("9f2c3a13812341234bbbbbbbbbbbbbb0", "0d3c13812341234ab", "5e1a2b3c-1381-2341-2345-a13812341234")
    for token in tokens:
        assert pii.find_phones(token) == [] and pii.mask_text(token) == token
    assert pii.find_phones("L13812341234 A13812341234") == ["13812341234", "13812341234"]
