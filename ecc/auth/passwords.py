"""Password hashing: Argon2id through argon2-cffi (the reference implementation's binding, RFC 9106
parameters), so that a stolen user table costs an attacker real memory and time per guess."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ecc.auth import hash_gate

MIN_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3): ~50 ms here
# Verified when a user does not exist, so that a wrong name takes as long as a wrong password.
_DUMMY = _HASHER.hash("not a password of anyone")


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password:
        raise WeakPassword("a password may not start or end with a space")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_strength(password))


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: the user has no local password; time is spent anyway)."""
    with hash_gate.gate().slot():  # at most a few 64 MiB verifications at once (raises hash_gate.Busy)
        try:
            return _HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def rehashed(stored: str, password: str) -> str | None:
    """A new hash of a verified password when the stored one has weaker parameters than today's, else None
    (the strength rule is not applied: the user proved they know it)."""
    if not _HASHER.check_needs_rehash(stored):
        return None
    with hash_gate.gate().slot():
        return _HASHER.hash(password)
