"""The `frontdoor` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from bot.settings import ENVIRONMENT, Settings

Command = Callable[[argparse.Namespace], int]


def _epilog() -> str:
    lines = ["environment variables:"]
    lines += [f"  {name:<22} {text}" for name, text in ENVIRONMENT.items()]
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from bot import glibc_malloc

    glibc_malloc.cap_arenas()  # before any thread starts (the imports below start some)
    from bot.app import serve
    from bot.runtime import setup_logging

    settings = Settings.from_env()
    if args.host or args.port:
        settings = Settings(**{**settings.__dict__, "host": args.host or settings.host,
                               "port": args.port or settings.port})
    setup_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.runtime import setup_logging
    from bot.terminal import chat_loop

    settings = Settings.from_env()
    setup_logging("WARNING")
    return asyncio.run(chat_loop(settings, args.session))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade_sync

    settings = Settings.from_env()
    upgrade_sync(settings.database_url, args.revision)
    print(f"database is at revision {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontdoor",
        description="Front Door: a 24/7 chat front door for a family help and safeguarding hub.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the service: web server, web chat, console, Telegram",
                         description="Run the web server (with /healthz) and, when "
                         "TELEGRAM_BOT_TOKEN is set, the Telegram bot (long polling, or webhook "
                         "mode when WEBHOOK_URL is set). Migrates the database first.",
                         epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--host", help="listen address (default FRONTDOOR_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="listen port (default FRONTDOOR_PORT or 8080)")
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="have the conversation in this terminal",
                          description="The same conversation in the terminal, for staff "
                          "training and demos. Type the number of a choice, or text; /help "
                          "lists commands; Ctrl-D leaves (answers are kept).")
    chat.add_argument("--session", default="terminal",
                      help="conversation name; use the same one to carry on later")
    chat.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="apply Alembic migrations (DATABASE_URL)")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.set_defaults(func=cmd_db_upgrade)

    for module in ("nlu.cli", "triage.cli", "bot.keys_cli"):
        try:
            mod = __import__(module, fromlist=["add_commands"])
        except ModuleNotFoundError as missing:
            if missing.name != module:
                raise
            continue
        mod.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from storage.crypto import DataKeyError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except DataKeyError as exc:  # a missing or wrong data key: the operator's exact message
        print(f"frontdoor: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
