"""`ecc user ...` and `ecc token ...` (docs/security.md): thin adapters over ecc.auth.users / tokens.

Passwords are never taken from argv (it shows in `ps` and shell history): a prompt on a terminal, else
the first line of stdin (`printf '%s\\n' "$PW" | ecc user add alice --role admin`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from ecc.auth import audit, tokens, users
from ecc.auth.passwords import WeakPassword
from ecc.auth.roles import ROLES, SCOPES


def _engine(settings):
    from ecc import metadata

    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    return engine


def read_password(stdin=None) -> str:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise WeakPassword("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def _record(engine, action: str, **fields) -> None:
    """Changes made here are in the audit trail like the admin page's, by the operating-system user."""
    actor = f"cli:{getpass.getuser()}"
    audit.record(engine, actor=actor, actor_kind="cli", action=action, method="CLI",
                 path=f"ecc {action.replace('.', ' ')}", summary=audit.summary_of(fields))


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def cmd_user(args, settings) -> int:
    engine = _engine(settings)
    try:
        if args.user_command == "add":
            user = users.add(engine, args.name, args.role, read_password())
            _record(engine, "user.add", name=user.name, role=user.role)
            print(f"user {user.name} added ({user.role})")
        elif args.user_command == "list":
            for u in users.list_all(engine):
                state = "active" if u.active else "disabled"
                print(f"{u.name:24} {u.role:9} {u.source:6} {state:9} last login {_when(u.last_login_at)}")
        elif args.user_command == "disable":
            users.disable(engine, args.name)
            _record(engine, "user.disable", name=args.name)
            print(f"user {args.name} disabled; their sessions have ended")
        elif args.user_command == "enable":
            users.enable(engine, args.name)
            _record(engine, "user.enable", name=args.name)
            print(f"user {args.name} enabled")
        elif args.user_command == "reset":
            users.reset_password(engine, args.name, read_password())
            _record(engine, "user.reset", name=args.name)
            print(f"password of {args.name} reset; their sessions have ended")
        elif args.user_command == "role":
            users.set_role(engine, args.name, args.role)
            _record(engine, "user.role", name=args.name, role=args.role)
            print(f"user {args.name} is now {args.role}")
    except (users.UserError, WeakPassword) as exc:
        sys.stderr.write(f"ecc user {args.user_command}: {exc}\n")
        return 1
    return 0


def cmd_token(args, settings) -> int:
    engine = _engine(settings)
    try:
        if args.token_command == "create":
            role = "viewer" if args.kind == "kiosk" else args.role
            view, secret = tokens.create(engine, args.kind, args.label, args.created_by, role=role,
                                         scopes=tuple(args.scope or ()), rate_per_minute=args.rate_per_minute)
            _record(engine, "token.create", id=view.id, kind=view.kind, role=view.role, label=view.label,
                    scopes=" ".join(view.scopes))
            sys.stderr.write(f"token {view.id} ({view.kind}, {view.role}"
                             f"{', ' + ' '.join(view.scopes) if view.scopes else ''}) created; "
                             "the secret below is shown once only\n")
            print(secret)
        elif args.token_command == "list":
            for tok in tokens.list_all(engine):
                state = f"revoked {_when(tok.revoked_at)}" if tok.revoked_at else "active"
                print(json.dumps({"id": tok.id, "kind": tok.kind, "label": tok.label, "role": tok.role,
                                  "scopes": list(tok.scopes), "state": state,
                                  "last_used_at": _when(tok.last_used_at), "last_used_ip": tok.last_used_ip,
                                  "last_used_agent": tok.last_used_agent}, ensure_ascii=False))
        elif args.token_command == "revoke":
            tokens.revoke(engine, args.id)
            _record(engine, "token.revoke", id=args.id)
            print(f"token {args.id} revoked")
    except tokens.TokenError as exc:
        sys.stderr.write(f"ecc token {args.token_command}: {exc}\n")
        return 1
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="users of the dashboard (password from a prompt or stdin)")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="a local user; the password is read from the terminal or stdin")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    user_sub.add_parser("list", help="every user with role, source and state")
    for name, text in (("disable", "disable a user and end their sessions"), ("enable", "enable a user"),
                       ("reset", "a new password (from the terminal or stdin); ends their sessions")):
        user_sub.add_parser(name, help=text).add_argument("name")
    role = user_sub.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    user.set_defaults(func=cmd_user)

    token = sub.add_parser("token", help="kiosk tokens (wall screens) and bearer tokens (programs)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="a new token; its secret is printed once")
    create.add_argument("--kind", choices=tokens.KINDS, required=True)
    create.add_argument("--label", required=True, help="where it is used (a screen's place, a system)")
    create.add_argument("--role", choices=ROLES, default="viewer", help="bearer tokens only")
    create.add_argument("--scope", action="append", choices=SCOPES, help="bearer tokens: e.g. events:write")
    create.add_argument("--rate-per-minute", type=int, default=None,
                        help="ingest requests a minute (default: ECC_INGEST_REQUESTS_PER_MINUTE)")
    create.add_argument("--created-by", default="cli")
    token_sub.add_parser("list", help="every token with where and when it was last used")
    token_sub.add_parser("revoke", help="revoke a token by its id").add_argument("id")
    token.set_defaults(func=cmd_token)
