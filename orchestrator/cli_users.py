"""`summit users …` and `summit token …`: who may use the operators' web server.

    summit users add mina --role operator --users state/users.yaml   # password from a prompt (or stdin)
    summit users list | summit users remove mina
    summit token create ci-bot --role viewer                         # prints the token once
    summit token revoke ci-bot

The file is `--users PATH` or SUMMIT_USERS_FILE; see `orchestrator.web.users` for its format.
`add_access_arguments` gives the commands that serve the dashboard their `--users`, `--public-url`
and `--dashboard-host`.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

import structlog

from orchestrator.web.auth import AccessError, AccessOptions, Role, is_loopback
from orchestrator.web.users import (
    MIN_PASSWORD,
    Account,
    TokenEntry,
    UsersData,
    UsersFileError,
    check_name,
    hash_password,
    hash_token,
    new_token,
    now_iso,
    read_users,
    write_users,
)

log = structlog.get_logger(__name__)

EXIT_USAGE = 2
ENV_USERS = "SUMMIT_USERS_FILE"


class _Refused(Exception):
    """A user error: the message is printed, the command exits 2."""


def _users_path(args: argparse.Namespace) -> Path:
    raw = args.users or os.environ.get(ENV_USERS)
    if not raw:
        raise _Refused(f"no users file: pass --users PATH or set {ENV_USERS}")
    return Path(raw)


def _role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _name(text: str) -> str:
    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _read_password(name: str) -> str:
    """Twice from a prompt on a terminal; else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise _Refused("the two passwords differ; nothing changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise _Refused(f"the password must have at least {MIN_PASSWORD} characters; nothing changed")
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    path = _users_path(args)
    data = read_users(path)
    if args.name in data.accounts and not args.replace:
        raise _Refused(f"{path}: user {args.name!r} exists (add --replace to set a new password or role)")
    password = _read_password(args.name)
    accounts = dict(data.accounts)
    accounts[args.name] = Account(args.name, args.role, hash_password(password))
    write_users(path, dataclasses.replace(data, accounts=accounts))
    log.info("user_added", user=args.name, role=args.role.name.lower(), path=str(path))
    print(f"{path}: {args.name} ({args.role.name.lower()}) saved")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    path = _users_path(args)
    data = read_users(path)
    for a in sorted(data.accounts.values(), key=lambda a: a.name):
        print(f"user   {a.name:<24} {a.role.name.lower()}")
    for t in sorted(data.tokens.values(), key=lambda t: t.name):
        print(f"token  {t.name:<24} {t.role.name.lower():<9} created {t.created}")
    print(f"{path}: {len(data.accounts)} user(s), {len(data.tokens)} token(s)")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    path = _users_path(args)
    data = read_users(path)
    if args.name not in data.accounts:
        raise _Refused(f"{path}: no user {args.name!r}")
    accounts = {k: v for k, v in data.accounts.items() if k != args.name}
    write_users(path, dataclasses.replace(data, accounts=accounts))
    log.info("user_removed", user=args.name, path=str(path))
    print(f"{path}: {args.name} removed (their sessions end at their next request)")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    path = _users_path(args)
    data = read_users(path)
    if args.name in data.tokens and not args.replace:
        raise _Refused(f"{path}: token {args.name!r} exists (revoke it, or add --replace)")
    token = new_token()
    tokens = dict(data.tokens)
    tokens[args.name] = TokenEntry(args.name, args.role, hash_token(token), now_iso())
    write_users(path, dataclasses.replace(data, tokens=tokens))
    log.info("token_created", token_name=args.name, role=args.role.name.lower(), path=str(path))
    print(
        f"# token {args.name} ({args.role.name.lower()}): shown once, only its hash is kept in {path}", file=sys.stderr
    )
    print(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    path = _users_path(args)
    data = read_users(path)
    if args.name not in data.tokens:
        raise _Refused(f"{path}: no token {args.name!r}")
    tokens = {k: v for k, v in data.tokens.items() if k != args.name}
    write_users(path, UsersData(data.accounts, tokens))
    log.info("token_revoked", token_name=args.name, path=str(path))
    print(f"{path}: token {args.name} revoked")
    return 0


def _run(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (_Refused, UsersFileError) as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_USAGE

    return run


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users_help = f"the users file (YAML, or JSON if it ends in .json); default ${ENV_USERS}"

    p = sub.add_parser("users", help="who may sign in to the dashboard (argon2-hashed passwords)")
    users = p.add_subparsers(dest="users_command", required=True)
    a = users.add_parser("add", help="add a user (password from a prompt, or the first line of stdin)")
    a.add_argument("name", type=_name)
    a.add_argument("--role", type=_role, required=True, help="viewer, operator or admin")
    a.add_argument("--replace", action="store_true", help="set a new password or role for an existing user")
    a.set_defaults(func=_run(cmd_users_add))
    a = users.add_parser("list", help="the users and tokens (names and roles, never secrets)")
    a.set_defaults(func=_run(cmd_users_list))
    a = users.add_parser("remove", help="remove a user; their sessions end at once")
    a.add_argument("name", type=_name)
    a.set_defaults(func=_run(cmd_users_remove))
    for parser in users.choices.values():
        parser.add_argument("--users", metavar="PATH", help=users_help)

    p = sub.add_parser("token", help="bearer tokens for automation (Authorization: Bearer …)")
    tokens = p.add_subparsers(dest="token_command", required=True)
    a = tokens.add_parser("create", help="make a token and print it once (only its SHA-256 is kept)")
    a.add_argument("name", type=_name)
    a.add_argument("--role", type=_role, required=True, help="viewer, operator or admin")
    a.add_argument("--replace", action="store_true", help="replace an existing token of that name")
    a.set_defaults(func=_run(cmd_token_create))
    a = tokens.add_parser("revoke", help="revoke a token; it is refused from its next request")
    a.add_argument("name", type=_name)
    a.set_defaults(func=_run(cmd_token_revoke))
    for parser in tokens.choices.values():
        parser.add_argument("--users", metavar="PATH", help=users_help)


# ---------------------------------------------------------------------- for the commands that serve


def add_access_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", metavar="PATH", help=f"users file: sign-in required (default ${ENV_USERS})")
    p.add_argument(
        "--public-url",
        metavar="URL",
        action="append",
        help="a name the dashboard is reached by (behind a proxy: https://control.example); repeatable",
    )
    p.add_argument(
        "--dashboard-host",
        metavar="HOST",
        help="address the dashboard binds (default 127.0.0.1; any other needs --users)",
    )


def access_options(args: argparse.Namespace) -> AccessOptions:
    """The dashboard's access from the arguments and the environment, checked before anything
    starts (exit 2 with the reason)."""
    users = args.users or os.environ.get(ENV_USERS)
    public = list(args.public_url or []) or [u for u in os.environ.get("SUMMIT_PUBLIC_URL", "").split(",") if u]
    host = args.dashboard_host or os.environ.get("SUMMIT_DASHBOARD_HOST") or "127.0.0.1"
    options = AccessOptions(host=host, users_file=Path(users) if users else None, public_urls=tuple(public))
    try:
        if options.users_file is not None:
            data = read_users(options.users_file)
            if not data.accounts and not data.tokens:
                raise AccessError(f"{options.users_file}: no users yet (summit users add NAME --role ROLE)")
        elif not is_loopback(host):
            raise AccessError(
                f"--dashboard-host {host} without a users file: anyone reaching it could take over; "
                "pass --users PATH (or SUMMIT_USERS_FILE), or serve 127.0.0.1"
            )
        options.build(None)  # the public URLs parse
    except (AccessError, UsersFileError) as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    return options
