"""`frontdoor chat`: the same conversation in a terminal, for staff training and demos."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from bot.runtime import build_runtime
from bot.settings import Settings
from flows.commands import COMMANDS
from flows.types import Choice, Flag, Kind, Message, Reply
from storage import repo

CHANNEL = "terminal"


def render(reply: Reply, width: int = 78) -> str:
    lines = []
    if Flag.EMERGENCY in reply.flags or Flag.URGENT in reply.flags:
        lines.append("!" * min(width, 40))
    for paragraph in reply.text.split("\n"):
        lines.append(textwrap.fill(paragraph, width) if paragraph else "")
    for n, choice in enumerate(reply.choices, start=1):
        lines.append(f"  [{n}] {choice.label}")
    return "\n".join(lines)


def to_message(line: str, chat: str, choices: tuple[Choice, ...], counter: int) -> Message:
    text = line.strip()
    external = f"{chat}:{counter}"
    if text.startswith("/"):
        head, _, arg = text[1:].partition(" ")
        if head.lower() in COMMANDS:
            return Message(CHANNEL, chat, Kind.COMMAND, command=head.lower(), text=arg.strip(),
                           external_id=external)
    if text.isdigit() and choices and 1 <= int(text) <= len(choices):
        return Message(CHANNEL, chat, Kind.CHOICE, choice=choices[int(text) - 1].id,
                       external_id=external)
    return Message(CHANNEL, chat, Kind.TEXT, text=text, external_id=external)


async def chat_loop(settings: Settings, session_name: str) -> int:
    runtime = await build_runtime(settings)
    processor = runtime.processor
    chat = session_name
    choices: tuple[Choice, ...] = ()
    loop = asyncio.get_running_loop()
    counter = 0
    print("Front Door chat (terminal). Type a number to choose, /help for help, Ctrl-D to quit.",
          flush=True)
    first = Message(CHANNEL, chat, Kind.COMMAND, command="start", external_id=f"{chat}:start:"
                    f"{loop.time()}")
    line: str | None = None
    message: Message | None = first
    try:
        while True:
            if message is not None:
                await processor.accept(message)
                await asyncio.sleep(0)
                await processor.idle(within=30)
                async with runtime.db.transaction() as session:
                    items = [i for i in await repo.pending_outbox(session, CHANNEL, limit=500)
                             if i.chat == chat]
                    for item in items:
                        reply = Reply.from_json(item.payload)
                        print("\n" + render(reply) + "\n", flush=True)
                        choices = reply.choices
                        await repo.mark_sent(session, item.id)
            line = await loop.run_in_executor(None, _read_line)
            if line is None:
                break
            if not line.strip():
                message = None
                continue
            counter += 1
            message = to_message(line, chat, choices, int(loop.time() * 1000) * 1000 + counter)
    finally:
        await runtime.close()
    return 0


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None
    finally:
        sys.stdout.flush()
