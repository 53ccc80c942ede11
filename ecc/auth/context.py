"""What the access layer of one web process holds: settings, the metadata engine, a Redis client."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class AuthContext:
    settings: object  # ecc.config.Settings
    engine: object  # SQLAlchemy engine of the metadata database
    redis: object  # redis.Redis (decode_responses=True): sessions, throttles, rate limits
    enabled: bool  # False: auth off (loopback clients only)

    @property
    def trusted_origins(self) -> frozenset[str]:
        raw = getattr(self.settings, "trusted_origins", "") or ""
        return frozenset(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


EXTENSION = "ecc_auth"


def current() -> AuthContext:
    return current_app.extensions[EXTENSION]
