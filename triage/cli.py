"""`frontdoor officers ...`, `frontdoor handover` and `frontdoor api-tokens ...`.

`add_commands(subparsers)` plugs these into the main `frontdoor` parser; each sets
`func(args) -> int` (the exit code). `python -m triage.cli ...` runs them on their own.
Every command brings the database schema up to date first, so it works on a new database.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from bot.settings import Settings
from profiles import load_profile
from storage.db import Database
from storage.migrate import upgrade
from storage.officers import ROLES
from storage.repo import audit
from storage.types import utcnow
from triage import accounts, handover_report, tokens
from triage.clock import local_today

CLI_ACTOR = "cli"


class CliError(Exception):
    """Printed to stderr as it is; the command exits with status 1."""


def _run(work: Callable[[Database, argparse.Namespace], Awaitable[None]]
         ) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        settings = Settings.from_env()

        async def main() -> None:
            await upgrade(settings.database_url)
            db = Database(settings.database_url)
            try:
                await work(db, args)
            finally:
                await db.dispose()

        try:
            asyncio.run(main())
        except (CliError, accounts.AccountError, tokens.TokenError) as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0

    return command


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise CliError("The two passwords are different.")
    return first


def _print_enrolment(enrolment: accounts.Enrolment | None) -> None:
    if enrolment is None:
        return
    print(f"Authenticator key for {enrolment.username} (shown once; give it in person):")
    print(f"  key:  {enrolment.totp_secret}")
    print(f"  link: {enrolment.totp_uri}")


async def _add(db: Database, args: argparse.Namespace) -> None:
    password = _password(args)
    async with db.transaction() as session:
        enrolment = await accounts.add(session, username=args.username,
                                       display_name=args.name or "", role=args.role,
                                       password=password, actor=CLI_ACTOR, now=utcnow())
    print(f"Added {enrolment.username} ({args.role}).")
    _print_enrolment(enrolment)


async def _disable(db: Database, args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        officer = await accounts.set_active(session, args.username, False, actor=CLI_ACTOR,
                                            now=utcnow())
    print(f"Disabled {officer.username}; their sessions have ended.")


async def _enable(db: Database, args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        officer = await accounts.set_active(session, args.username, True, actor=CLI_ACTOR,
                                            now=utcnow())
    print(f"Enabled {officer.username}.")


async def _reset(db: Database, args: argparse.Namespace) -> None:
    password = _password(args)
    async with db.transaction() as session:
        enrolment = await accounts.reset(session, args.username, password,
                                         new_totp=args.new_totp, actor=CLI_ACTOR,
                                         now=utcnow())
    print(f"Reset {args.username.strip().lower()}: unlocked, sessions ended, "
          "new password to be changed at next sign-in.")
    _print_enrolment(enrolment)


async def _list(db: Database, _args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        officers = await accounts.list_officers(session)
    for officer in officers:
        state = "active" if officer.active else "disabled"
        print(f"{officer.username:24} {officer.role:8} {state:8} {officer.display_name}")


async def _handover(db: Database, args: argparse.Namespace) -> None:
    profile = load_profile()
    try:
        day = date.fromisoformat(args.date) if args.date else local_today(profile)
    except ValueError as exc:
        raise CliError("--date must look like 2025-01-31.") from exc
    window = handover_report.window_for(profile, day)
    async with db.transaction() as session:
        rows = await handover_report.lines(session, profile, window)
        await audit(session, CLI_ACTOR, "view_ooh_handover",
                    detail={"day": day.isoformat(), "page": "cli", "contacts": len(rows)})
    if args.pdf:
        from triage.pdf import handover_pdf  # fpdf2 stays out of every `frontdoor` process

        data = handover_pdf(handover_report.title(window, profile), rows)
        await asyncio.to_thread(Path(args.pdf).write_bytes, data)
        print(f"Wrote {args.pdf} ({len(rows)} contact(s)).")
    elif args.format == "csv":
        sys.stdout.write(handover_report.as_csv(rows))
    else:
        sys.stdout.write(handover_report.as_text(window, rows, profile))


async def _token_create(db: Database, args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        token = await tokens.create(session, name=args.name, scopes=args.scope or [],
                                    actor=CLI_ACTOR, now=utcnow(), days=args.days)
    print(f"Token {args.name!r} (shown once):")
    print(token)


async def _token_revoke(db: Database, args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        await tokens.revoke(session, args.name, actor=CLI_ACTOR, now=utcnow())
    print(f"Revoked {args.name!r}.")


async def _token_list(db: Database, _args: argparse.Namespace) -> None:
    async with db.transaction() as session:
        rows = await tokens.list_tokens(session)
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        print(f"{row.name:30} {row.prefix}…  {state:8} {','.join(row.scopes)}")


async def _people_export(db: Database, args: argparse.Namespace) -> None:
    from storage.subject import export_person

    async with db.transaction() as session:
        data = await export_person(session, args.channel, args.chat)
    print(json.dumps(data, ensure_ascii=False, indent=2))


async def _people_erase(db: Database, args: argparse.Namespace) -> None:
    from storage.subject import erase_person

    if not args.yes:
        raise SystemExit("Erasing cannot be undone: add --yes to confirm.")
    async with db.transaction() as session:
        result = await erase_person(session, args.channel, args.chat, utcnow())
    print(f"Erased {len(result['erased'])} request(s): {', '.join(result['erased']) or '-'}")
    if result["held"]:
        print(f"Kept for safeguarding (safeguarding_hold): {', '.join(result['held'])}")


def _password_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from one line of standard input")


def add_commands(subparsers: Any) -> None:
    """Register the triage commands on the main `frontdoor` sub-parsers."""
    officers = subparsers.add_parser("officers", help="manage officer accounts")
    osub = officers.add_subparsers(dest="officers_command", required=True)
    add = osub.add_parser("add", help="add an officer (prints their authenticator key)")
    add.add_argument("username")
    add.add_argument("--name", help="full name shown in the console")
    add.add_argument("--role", choices=ROLES, default="officer")
    _password_flag(add)
    add.set_defaults(func=_run(_add))
    disable = osub.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(func=_run(_disable))
    enable = osub.add_parser("enable", help="enable a disabled account")
    enable.add_argument("username")
    enable.set_defaults(func=_run(_enable))
    reset = osub.add_parser(
        "reset", help="set a temporary password, unlock, end sessions (optionally new 2FA key)")
    reset.add_argument("username")
    reset.add_argument("--new-totp", action="store_true",
                       help="also issue a new authenticator key")
    _password_flag(reset)
    reset.set_defaults(func=_run(_reset))
    listing = osub.add_parser("list", help="list accounts")
    listing.set_defaults(func=_run(_list))

    handover = subparsers.add_parser(
        "handover", help="list what arrived out of hours (17:00-08:00, weekends all day) since "
        "the previous morning handover")
    handover.add_argument("--date", help="the morning (YYYY-MM-DD, default today)")
    handover.add_argument("--format", choices=("text", "csv"), default="text")
    handover.add_argument("--pdf", metavar="FILE", help="write a PDF instead")
    handover.set_defaults(func=_run(_handover))

    api_tokens = subparsers.add_parser("api-tokens", help="manage REST API tokens")
    tsub = api_tokens.add_subparsers(dest="tokens_command", required=True)
    create = tsub.add_parser("create", help="create a token (printed once)")
    create.add_argument("name")
    create.add_argument("--scope", action="append", choices=sorted(tokens.SCOPES))
    create.add_argument("--days", type=int, help="expire after this many days")
    create.set_defaults(func=_run(_token_create))
    revoke = tsub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("name")
    revoke.set_defaults(func=_run(_token_revoke))
    tlist = tsub.add_parser("list", help="list tokens")
    tlist.set_defaults(func=_run(_token_list))

    people = subparsers.add_parser(
        "people", help="a person's data rights: subject access export and erasure")
    psub = people.add_subparsers(dest="people_command", required=True)
    for name, work, text in (
        ("export", _people_export, "print everything held about one chat as JSON"),
        ("erase", _people_erase, "erase one chat's data, except requests held for safeguarding"),
    ):
        cmd = psub.add_parser(name, help=text)
        cmd.add_argument("--channel", required=True, help="telegram, web or terminal")
        cmd.add_argument("--chat", required=True, help="the channel's chat id")
        if name == "erase":
            cmd.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
        cmd.set_defaults(func=_run(work))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdoor")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
