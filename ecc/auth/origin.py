"""CSRF: a state-changing request carried by a browser's cookie must come from this site's own pages.

Chosen over a double-submit token: every browser the wall supports sends `Sec-Fetch-Site` (on https and
localhost) and `Origin` on every POST/PUT/PATCH/DELETE, fetch() and form alike, so Dash's callbacks, the
login form and the admin forms are covered without changing the Dash renderer or adding a script to
the shared assets, and a forged request is refused before any handler runs. It is the check of Go 1.25's
`http.CrossOriginProtection` (after Filippo Valsorda's analysis), made stricter: a request that a
cookie authenticates and that carries neither header is refused, since only a program sends that, and
programs use bearer tokens (which a browser never attaches by itself). SameSite=Lax cookies are the
second line. Behind a proxy that rewrites Host, list the public origin in ECC_TRUSTED_ORIGINS.
"""

from __future__ import annotations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site_reason(method: str, headers, host: str, scheme: str, trusted: frozenset[str],
                      cookie_authenticated: bool) -> str | None:
    """Why this request must be refused as cross-site, or None when it may proceed."""
    if method.upper() in SAFE_METHODS:
        return None
    fetch_site = headers.get("Sec-Fetch-Site")
    origin = headers.get("Origin")
    if fetch_site is not None:
        if fetch_site in ("same-origin", "none"):
            return None
        if origin and origin in trusted:
            return None
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    if origin is not None:
        if origin == f"{scheme}://{host}" or origin in trusted:
            return None
        return f"cross-origin request refused (Origin: {origin})"
    if cookie_authenticated:
        return "a state-changing browser request needs an Origin header (programs: use a bearer token)"
    return None
