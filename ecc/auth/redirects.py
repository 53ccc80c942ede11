"""Where a login (password or single sign-on) may send the browser afterwards: the `next` parameter.

One rule for every place that redirects to a `next` taken from a request, so that no path becomes an open
redirect to another site. Only a path on this site is kept; anything else becomes "/".
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

HOME = "/"


def _hostile_char(c: str) -> bool:
    """Whitespace and control characters (browsers drop tab/CR/LF from a URL, so "/<tab>/host" turns into
    "//host"), and backslashes (browsers read "\\" as "/" in http(s) URLs, so "/\\host" is "//host")."""
    code = ord(c)
    return c.isspace() or code < 0x20 or 0x7F <= code <= 0x9F or c == "\\" or code in _INVISIBLE


# Zero-width and direction-changing characters: invisible in a URL bar, no place in our paths.
_INVISIBLE = {0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D,
              0x202E, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF, 0xFFFE, 0xFFFF}


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else "/".

    A path starts with exactly one "/" (so never "//host", a scheme such as "https:" or "javascript:",
    or a relative "host/x"); whitespace, control, invisible characters and backslashes anywhere reject it
    whole (not stripped: stripping is what turns "/<tab>/host" into "//host"). Other non-ASCII characters
    are percent-encoded, so a look-alike such as a fullwidth solidus ("/／host") stays a plain path
    segment whatever the browser makes of it. Percent-escapes already in the path are left alone: a
    browser does not decode "%2F" or "%09" in a Location header, so "/%2F/host" is a path here.
    """
    if not value or not isinstance(value, str) or len(value) > 2048:
        return HOME
    if not value.startswith("/") or value.startswith("//"):
        return HOME
    if any(_hostile_char(c) for c in value):
        return HOME
    if not value.isascii():
        value = "".join(c if c.isascii() else quote(c, safe="") for c in value)
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:  # belt and braces: what is left must parse as a bare path
        return HOME
    return value


__all__ = ["HOME", "safe_next"]
