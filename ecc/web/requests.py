"""The JSON APIs' one client error: its type, the request parsers that raise it, and its handler.

Every /api/v1 blueprint (ecc/web/api.py, ecc/alerts/api.py, ecc/alerts/receivers_api.py) answers a bad
request the same way, the contract's error shape: `{"error": "<what is wrong>", "detail": <data or null>}`
with a 4xx status (400 unless the error says otherwise, e.g. 413 for a body too large). A blueprint calls
`install(blueprint, *domain_errors)` once: its own validation errors (`rules.RuleError`,
`receivers.ReceiverError`: ValueErrors with a `detail`) get the same answer, with status 400.
The handler goes on each blueprint rather than the app because a blueprint's own catch-all
(`errorhandler(Exception)` in ecc/web/api.py) would otherwise be found before an app-wide one.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ecc.config import ConfigError, parse_bool


class ApiError(ValueError):
    """A request the API refuses; `detail` is JSON data that says more, `status` the 4xx to answer."""

    def __init__(self, message: str, detail=None, status: int = 400):
        super().__init__(message)
        self.detail = detail
        self.status = status


def json_error(exc: Exception):
    """The answer to a refused request: the contract's `{"error", "detail"}` and the error's status."""
    return jsonify({"error": str(exc), "detail": getattr(exc, "detail", None)}), getattr(exc, "status", 400)


def install(blueprint: Blueprint, *domain_errors: type[Exception]) -> None:
    """Answer ApiError, and the given domain errors, raised under `blueprint` with `json_error`."""
    for kind in (ApiError, *domain_errors):
        blueprint.register_error_handler(kind, json_error)


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """Query parameter `name` as an integer in [low, high]; `default` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low} and {high}, got {value}")
    return value


def number_arg(name: str, default: float, low: float, high: float) -> float:
    """Query parameter `name` as a number in [low, high] (NaN refused); `default` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:  # also refuses NaN
        raise ApiError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def bool_arg(name: str, default: bool = False) -> bool:
    """Query parameter `name` as a flag: 1/true/yes/on or 0/false/no/off (any case; empty is false);
    anything else is refused rather than guessed."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return parse_bool(name, raw)  # the words the settings take, too
    except ConfigError:
        raise ApiError(f"{name} must be one of 1, true, yes, on, 0, false, no, off, got {raw!r}") from None


def json_object(message: str = "body must be a JSON object (Content-Type: application/json)",
                empty_ok: bool = False) -> dict:
    """The request's JSON body, which must be an object; `empty_ok`: no body at all reads as {}."""
    if empty_ok and not request.content_length:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(message)
    return body
