"""Access control (docs/security.md): users and roles, browser sessions, kiosk and bearer tokens, the
route policy every request is checked against, login throttling and the audit trail.

Layout: `roles` (pure: the role order and the request's identity), `policy` (pure: the one table of
routes and Dash callbacks to the least role allowed), `origin` (pure: the CSRF check), `models` (tables),
`passwords`, `users`, `tokens`, `audit` (metadata DB), `sessions`, `throttle` (Redis), `mode` (auth on/off
and the loopback rule), `guard` (the Flask hooks that tie them together), `api` (/api/v1/audit).
"""
