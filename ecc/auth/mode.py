"""Auth on or off, and the rule that makes "off" safe: only on a loopback address (the embedded demo).

ECC_AUTH = on | off | auto (default). `auto` is on unless every address the server listens on is a
loopback one. `ecc web` resolves it for its --host and refuses `off` on any other address; the gunicorn
configuration (ecc/auth/gunicorn_conf.py) checks the binds of a gunicorn started by hand; and an app
running with auth off answers loopback clients only, whatever started it.
"""

from __future__ import annotations

import ipaddress

MODES = ("on", "off", "auto")


class AuthModeError(ValueError):
    pass


def is_loopback_host(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, 0.0.0.0's cousins, a unix socket: not provably loopback


def bind_host(bind: str) -> str:
    """The host of a gunicorn bind ("0.0.0.0:8050", "[::1]:8050", "unix:/run/x.sock")."""
    if bind.startswith("unix:") or bind.startswith("fd://"):
        return bind
    if bind.startswith("["):
        return bind[1:bind.index("]")]
    return bind.rsplit(":", 1)[0] if ":" in bind else bind


def resolve(mode: str, hosts: list[str]) -> bool:
    """Whether auth is on for a server listening on `hosts`; AuthModeError for auth off on a non-loopback
    address (a production start must never run open)."""
    mode = (mode or "auto").strip().lower()
    if mode not in MODES:
        raise AuthModeError(f"ECC_AUTH={mode!r}: use on, off or auto")
    open_to_network = [h for h in hosts if not is_loopback_host(h)]
    if mode == "on":
        return True
    if mode == "off" and open_to_network:
        raise AuthModeError(f"ECC_AUTH=off while listening on {', '.join(open_to_network)}: auth may be off "
                            "only on a loopback address (127.0.0.1); set ECC_AUTH=on and add users "
                            "(`ecc user add`)")
    return bool(open_to_network)


def enabled_in_app(mode: str) -> bool:
    """Inside the app, which cannot see its binds: `on` is on; `off` and `auto` are off, and then the guard
    answers loopback clients only (a server bound to 0.0.0.0 with auth off serves nobody else)."""
    mode = (mode or "auto").strip().lower()
    if mode not in MODES:
        raise AuthModeError(f"ECC_AUTH={mode!r}: use on, off or auto")
    return mode == "on"
