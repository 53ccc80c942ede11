"""Receiver secrets sealed at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key of
the installation, so the metadata database (a file, a backup, a replica) holds no robot secret, SMTP
password or webhook signing key in clear.

The key, in this order: ECC_SECRET_KEY (several, comma-separated, while rotating: the first seals, every one
opens), else `<data_dir>/secrets/receivers.key`, which `ecc demo` makes at random. Never a default in the
code. Each key is stretched to a Fernet key with HKDF-SHA256 (its own label, so the same string used for
something else yields an unrelated key); a key shorter than 32 characters is refused.

Stored form: `fernet:<token>`; "" is no secret. A value without the prefix is a row written before sealing
existed: `receivers.seal_stored` (every web start, `receivers.check_start`) seals those and re-seals rows
sealed under an older key, compare-and-set per row, so processes starting together agree.

Without a key an installation still starts and notifies while no receiver has a secret (nothing to
protect, and every existing deployment keeps starting); once one has, the web process refuses to start
without the key that opens it, and a secret cannot be saved without a key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ecc.config import ConfigError, Settings, _create_key_file  # the phone key's atomic key-file writer

KEY_FILE = Path("secrets") / "receivers.key"  # under the data directory
KEY_VARIABLE = "ECC_SECRET_KEY"
PREFIX = "fernet:"
MIN_KEY_CHARS = 32
_LABEL = b"ecc/receivers/secret/v1"


class SecretError(ValueError):
    """A stored secret cannot be opened (no key, or not the key it was sealed with). Names no secret."""


def _fernet(key: str) -> Fernet:
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{KEY_VARIABLE} must be at least {MIN_KEY_CHARS} characters of random text "
                          f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


class SecretBox:
    """Seals and opens receiver secrets with the installation's key(s)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(f"no key: set {KEY_VARIABLE}")
        self._fernets = [_fernet(k) for k in keys]
        self._all = MultiFernet(self._fernets)

    def seal(self, plain: str) -> str:
        return PREFIX + self._all.encrypt(plain.encode()).decode() if plain else ""

    def open(self, stored: str) -> str:
        if not stored:
            return ""
        if not stored.startswith(PREFIX):
            return stored  # written before sealing existed; sealed at the next start
        try:
            return self._all.decrypt(stored[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise SecretError(f"the secret was sealed under another key: this process's key ({KEY_VARIABLE}, "
                              f"else <data_dir>/{KEY_FILE}) is not the one the receivers were saved "
                              "with") from None

    def is_current(self, stored: str) -> bool:
        """Sealed, and under the first key (the one that seals now)."""
        if not stored.startswith(PREFIX):
            return False
        try:
            self._fernets[0].decrypt(stored[len(PREFIX):].encode())
        except InvalidToken:
            return False
        return True


def open_secret(box: SecretBox | None, stored: str) -> str:
    """The secret in clear (in memory only), or SecretError when it cannot be opened."""
    if not stored:
        return ""
    if box is None:
        if stored.startswith(PREFIX):
            raise SecretError(f"the secret is sealed and this process has no key: set {KEY_VARIABLE}")
        return stored
    return box.open(stored)


def _keys(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.split(",") if k.strip())


def resolve_key(settings: Settings, *, create: bool = False) -> Settings:
    """`settings` with `secret_key` filled from ECC_SECRET_KEY or the key file (made at random with
    `create`, as `ecc demo` does); unchanged when there is none."""
    if settings.secret_key:
        return settings
    path = settings.data_path / KEY_FILE
    if not path.exists() and create:
        _create_key_file(path)
    if not path.exists():
        return settings
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}): chmod 600 it, "
                          f"or set {KEY_VARIABLE}")
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it to have `ecc demo` make a new one, "
                          f"or set {KEY_VARIABLE}")
    return settings.with_(secret_key=key)


@lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(keys)


def box_for(settings: Settings | None) -> SecretBox | None:
    """The installation's box, or None when no key is configured (settings None: an evaluator made
    without settings, which opens nothing sealed)."""
    if settings is None:
        return None
    keys = _keys(resolve_key(settings).secret_key)
    return _box(keys) if keys else None
