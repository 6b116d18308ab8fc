"""`frontdoor keys generate|rotate|check`: the operator's side of encryption at rest.

Rotation, in order: `keys generate`; put the new key first in FRONTDOOR_DATA_KEYS (old keys
after it) and restart the service; `keys rotate`; `keys check` shows nothing on an older key;
remove the old key and restart. `add_commands(subparsers)` plugs these into `frontdoor`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.settings import Settings
from storage import keys
from storage.crypto import DataKeyError, generate_key
from storage.db import Database
from storage.migrate import upgrade


def _generate(_args: argparse.Namespace) -> int:
    print(generate_key())
    print(
        "Put this key first in FRONTDOOR_DATA_KEYS (comma-separated, newest first), restart, "
        "then run `frontdoor keys rotate`.",
        file=sys.stderr,
    )
    return 0


async def _with_db(work: Any) -> list[keys.ColumnReport]:
    settings = Settings.from_env()
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        result: list[keys.ColumnReport] = await work(db)
        return result
    finally:
        await db.dispose()


def _unreadable(reports: list[keys.ColumnReport]) -> int:
    bad = [r for r in reports if r.unreadable]
    for report in bad:
        ids = ", ".join(str(i) for i in report.unreadable_ids)
        more = "…" if report.unreadable > len(report.unreadable_ids) else ""
        print(
            f"{report.name}: {report.unreadable} unreadable (row ids {ids}{more})", file=sys.stderr
        )
    if bad:
        print(
            "Some values cannot be decrypted with any configured key. Add the key they were "
            "written with to FRONTDOOR_DATA_KEYS (after the newest) and run this again.",
            file=sys.stderr,
        )
        return 1
    return 0


def _rotate(args: argparse.Namespace) -> int:
    reports = asyncio.run(_with_db(lambda db: keys.rotate(db, batch=args.batch)))
    for r in reports:
        print(f"{r.name}: {r.rotated} re-encrypted, {r.current} already on the newest key")
    total = sum(r.rotated for r in reports)
    status = _unreadable(reports)
    if status == 0:
        print(
            f"{total} values re-encrypted; every value is under the newest key, so older "
            "keys can now be removed."
        )
    return status


def _check(_args: argparse.Namespace) -> int:
    reports = asyncio.run(_with_db(keys.check))
    for r in reports:
        print(
            f"{r.name}: {r.current} on the newest key, {r.old} on an older key, "
            f"{r.unreadable} unreadable"
        )
    status = _unreadable(reports)
    old = sum(r.old for r in reports)
    if status == 0:
        print(
            "every value can be read"
            + (
                f"; {old} are on an older key: run `frontdoor keys rotate`"
                if old
                else " and is under the newest key"
            )
        )
    return status


def add_commands(subparsers: Any) -> None:
    """Register `frontdoor keys ...` on the main parser."""
    parser = subparsers.add_parser(
        "keys",
        help="data keys for encryption at rest: generate, rotate, check",
        description="Free text and identifiers are encrypted with FRONTDOOR_DATA_KEYS "
        "(comma-separated, newest first; on SQLite without it, a key file beside the "
        "database). Rotate: generate a key, put it first, restart, `keys rotate`, then "
        "remove the old key.",
    )
    sub = parser.add_subparsers(dest="keys_command", required=True)
    sub.add_parser("generate", help="print a new key").set_defaults(func=_generate)
    rotate = sub.add_parser(
        "rotate", help="re-encrypt every value with the newest key (in batches; safe to run again)"
    )
    rotate.add_argument("--batch", type=int, default=keys.BATCH, help="rows per transaction")
    rotate.set_defaults(func=_rotate)
    sub.add_parser(
        "check", help="count values by key and list any that cannot be read"
    ).set_defaults(func=_check)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdoor")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DataKeyError as exc:
        print(f"frontdoor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
