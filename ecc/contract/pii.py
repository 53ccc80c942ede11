"""Phone numbers are personal data: they are masked for display and hashed for matching at the door.

Nothing downstream of `ecc.contract.validate` ever sees a raw phone number. A mainland mobile number is masked
wherever it is written, in any common form: `13812341234`, `+86 138 1234 1234`, `138-1234-1234`,
`138.1234.1234`, `(138)1234-1234`, `138 1234 1234`, full-width digits, `+8613812341234`,
`008613812341234`. `mask_text` scrubs free text (fields, rejection reasons, dead letters) and
`find_phones` lists what it would mask, so that a scan for leaks and the masking agree on what a phone is.

What is *not* a phone: 11 digits inside a longer run of digits (a 15-digit id, a millisecond timestamp),
a number starting 10/11/12 (no mainland mobile range), and digits inside a machine token (a UUID, an
HMAC or other run of 16+ hex characters). A phone glued to letters (`L13812341234`)
*is* one: ids built from phone numbers are common upstream, and they are exactly what must not leak.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-().·_]")
# One separator between digit groups: spaces (any Unicode space), a dash, dot, underscore or slash,
# optionally padded with spaces ("138 - 1234 - 1234").
_SEP = r"(?:\s*[-./_·－．]\s*|\s+)"
_D = r"\d"  # any Unicode decimal digit: full-width ０-９ too, so that they cannot sneak past
_OPEN, _CLOSE = r"[(（]", r"[)）]"
# An optional country code: +86, 0086, 86, with or without parentheses and a separator after it.
_CC = rf"(?:(?:{_OPEN}\s*)?(?:[+＋]\s*|[0０]{{2}})?[8８][6６](?:\s*{_CLOSE})?{_SEP}?)?"
_MOBILE = re.compile(
    rf"(?<!\d){_CC}(?:"
    rf"(?P<a>[1１][3-9３-９]{_D}{{9}})"  # 13812341234
    rf"|(?P<b1>[1１][3-9３-９]{_D}){_SEP}(?P<b2>{_D}{{4}}){_SEP}(?P<b3>{_D}{{4}})"  # 138 1234 1234
    # (138)1234-1234
    rf"|{_OPEN}\s*(?P<c1>[1１][3-9３-９]{_D})\s*{_CLOSE}\s*(?P<c2>{_D}{{4}}){_SEP}?(?P<c3>{_D}{{4}})"
    rf")(?!\d)")
# Machine tokens: a canonical UUID or 16+ hex characters (an HMAC, uuid4().hex). Random hex holds 11
# digits in a row about once in a thousand tokens; inside such a token they are not a phone number.
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}|[0-9a-f]{16,}|[0-9A-F]{16,})"
                        r"(?![0-9A-Za-z])")
# Any other long digit run in a field named like a phone (landlines, foreign numbers).
_LONG_DIGITS = re.compile(r"\d{7,}")


class PhoneError(ValueError):
    pass


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)


def _digits_of(match: re.Match[str]) -> str:
    """The 11 ASCII digits of a matched mobile number, whatever form it was written in."""
    groups = match.groupdict()
    raw = groups["a"] or "".join(groups[g] or "" for g in ("b1", "b2", "b3", "c1", "c2", "c3"))
    return _ascii_digits(raw)


def normalise_phone(raw: str) -> str:
    """Digits only, without a +86 prefix. Raises PhoneError for what cannot be a phone number."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if digits.startswith("+"):
        digits = digits[1:]
        if digits.startswith("86"):
            digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()) or not 7 <= len(digits) <= 15:
        raise PhoneError("phone is not a phone number (7 to 15 digits)")
    return digits


def mask_phone(digits: str) -> str:
    """138****1234: keep the first three and the last four digits."""
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 2)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def hash_phone(digits: str, key: str) -> str:
    """Keyed hash (HMAC-SHA256, 32 hex chars): equal phones match, the number cannot be recovered
    without the key (only 10^4 numbers share a masked form, so the key must stay secret)."""
    if not key:
        raise PhoneError("no phone hash key configured (ECC_PHONE_HASH_KEY)")
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()[:32]


def _phones(text: str) -> list[re.Match[str]]:
    found = list(_MOBILE.finditer(text))
    if not found:
        return found
    tokens = [m.span() for m in _HEX_TOKEN.finditer(text)]
    return [m for m in found if not any(a <= m.start() and m.end() <= b for a, b in tokens)]


def find_phones(text: str) -> list[str]:
    """Every mainland mobile number in `text`, as written (used by leak scans and by `has_phone`)."""
    return [m.group(0) for m in _phones(text)]


def has_phone(text: str) -> bool:
    return bool(_phones(text))


def mask_text(text: str) -> str:
    """Mask every mobile number in free text, in any form, as 138****1234 (idempotent)."""
    out, last = [], 0
    for m in _phones(text):
        out += [text[last:m.start()], mask_phone(_digits_of(m))]
        last = m.end()
    return "".join(out) + text[last:] if out else text


def mask_value(value: object) -> object:
    """Mask a phone field's value of any type, for the raw copy of a rejected event."""
    text = mask_text(str(value))
    return _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), text)
