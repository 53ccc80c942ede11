"""Phone numbers are personal data: they are masked for display and hashed for matching at the door.

Nothing downstream of `ecc.validate` ever sees a raw phone number. `mask_text` also scrubs free text
(a rejected line kept for operators) so that a number in a malformed line is not stored either.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_SEPARATORS = re.compile(r"[\s\-()]")
# A Chinese mobile number, optionally with +86/86 and separators, not inside a longer digit run.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1\d{2})[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")
# Any other long digit run in a field named like a phone (landlines, foreign numbers).
_LONG_DIGITS = re.compile(r"\d{7,}")


class PhoneError(ValueError):
    pass


def normalise_phone(raw: str) -> str:
    """Digits only, without a +86 prefix. Raises PhoneError for what cannot be a phone number."""
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
        if digits.startswith("86"):
            digits = digits[2:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise PhoneError("phone is not a phone number (7 to 15 digits)")
    return digits


def mask_phone(digits: str) -> str:
    """138****1234: keep the first three and the last four digits."""
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 2)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def hash_phone(digits: str, key: str) -> str:
    """Keyed hash (HMAC-SHA256, 32 hex chars): equal phones match, the number cannot be recovered."""
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()[:32]


def mask_text(text: str) -> str:
    """Mask every mobile number in free text (e.g. a rejected line kept in the dead-letter store)."""
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_value(value: object) -> object:
    """Mask a phone field's value of any type, for the raw copy of a rejected event."""
    text = mask_text(str(value))
    return _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), text)
