"""bot.aiogram_lazy: aiogram's Telegram types built on first use, not at import.

Why: building all ~440 models at import is about 100 MB of the bot's memory; building them on
first use must still parse every update and Bot API answer the bot sees, and serialise every
method it sends, exactly as the eager import does. Each check runs in a fresh interpreter,
because other tests have imported aiogram (eagerly) in this one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs in a child: argv[1] is "lazy" (bot.aiogram_lazy first), "eager" (aiogram alone) or
# "late" (aiogram first, then bot.aiogram_lazy). Prints one JSON object.
CHILD = r"""
import json, sys

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

mode = sys.argv[1]
import pydantic
pydantic_rebuild = pydantic.BaseModel.__dict__["model_rebuild"]
out = {}
if mode == "lazy":
    import bot.aiogram_lazy as lazy
    out["lazy"] = lazy.LAZY
    out["unbuilt_after_import"] = len(lazy.unbuilt())
elif mode == "late":
    import aiogram
    import bot.aiogram_lazy as lazy
    out["lazy"] = lazy.LAZY
    out["unbuilt_after_import"] = len(lazy.unbuilt())
else:
    import aiogram
import aiogram.methods
import aiogram.types
out["hwm_import"] = hwm_mb()
out["rebuild_is_pydantic"] = pydantic.BaseModel.__dict__["model_rebuild"] is pydantic_rebuild

# Another library's model, rebuilt from a function whose local names it needs: pydantic's
# own model_rebuild must find them in the caller's frame, as it always did.
def other_library():
    class Item(pydantic.BaseModel):
        child: "Local | None" = None
    class Local(pydantic.BaseModel):
        n: int
    complete_before = Item.__pydantic_complete__
    Item.model_rebuild()
    return complete_before, Item.model_validate({"child": {"n": 3}}).child.n
out["other_library"] = other_library()

from aiogram import methods
from aiogram.methods.base import Response
from aiogram.types import (BotCommand, CallbackQuery, InlineKeyboardButton,
                           InlineKeyboardMarkup, Message, Update, User)

USER = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "pl"}
CHAT = {"id": 7, "type": "private", "first_name": "Ann"}
BOT = {"id": 42, "is_bot": True, "first_name": "Front Door", "username": "frontdoor_bot"}

def message(message_id, **content):
    return {"message_id": message_id, "date": 1700000000, "chat": CHAT, "from": USER,
            **content}

KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"},
                                 {"text": "No", "callback_data": "no"}]]}
UPDATES = {
    "text": {"update_id": 1, "message": message(1, text="my dad is hitting my mum")},
    "command": {"update_id": 2, "message": message(
        2, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])},
    "edited": {"update_id": 3, "edited_message": message(
        1, text="my step dad is hitting my mum", edit_date=1700000100)},
    "sticker": {"update_id": 4, "message": message(4, sticker={
        "file_id": "S1", "file_unique_id": "s1", "type": "regular", "width": 512,
        "height": 512, "is_animated": False, "is_video": False, "emoji": "\U0001F44D"})},
    "photo": {"update_id": 5, "message": message(5, caption="look", photo=[
        {"file_id": "P1", "file_unique_id": "p1", "width": 90, "height": 67,
         "file_size": 1000},
        {"file_id": "P2", "file_unique_id": "p2", "width": 1280, "height": 960,
         "file_size": 90000}])},
    "voice": {"update_id": 6, "message": message(6, voice={
        "file_id": "V1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg",
        "file_size": 4000})},
    "callback": {"update_id": 7, "callback_query": {
        "id": "99", "from": USER, "chat_instance": "-5", "data": "yes",
        "message": {"message_id": 8, "date": 1700000000, "chat": CHAT, "from": BOT,
                    "text": "Are you safe?", "reply_markup": KEYBOARD}}},
}
parsed = {}
for name, raw in UPDATES.items():
    update = Update.model_validate(raw)
    parsed[name] = {"type": update.event_type,
                    "dump": update.model_dump(mode="json", exclude_none=True)}
update = Update.model_validate(UPDATES["text"])
parsed["text"]["language_code"] = update.message.from_user.language_code
parsed["text"]["text"] = update.message.text
parsed["command"]["entity"] = Update.model_validate(UPDATES["command"]).message.entities[0].type
parsed["sticker"]["emoji"] = Update.model_validate(UPDATES["sticker"]).message.sticker.emoji
parsed["photo"]["largest"] = Update.model_validate(UPDATES["photo"]).message.photo[-1].file_id
parsed["voice"]["duration"] = Update.model_validate(UPDATES["voice"]).message.voice.duration
query = Update.model_validate(UPDATES["callback"]).callback_query
parsed["callback"]["message_class"] = type(query.message).__name__
parsed["callback"]["button"] = query.message.reply_markup.inline_keyboard[0][1].callback_data
out["updates"] = parsed

generic = Response  # parametrised at run time, as aiogram does
responses = {
    "Message": (generic[Message], {"ok": True, "result": message(9, text="hello")}),
    "bool": (generic[bool], {"ok": True, "result": True}),
    "list[Update]": (generic[list[Update]],
                     {"ok": True, "result": [UPDATES["text"], UPDATES["callback"]]}),
    "User": (generic[User], {"ok": True, "result": BOT}),
    "error": (generic[bool], {"ok": False, "error_code": 429, "description": "Too Many",
                              "parameters": {"retry_after": 3}}),
}
out["responses"] = {}
for name, (cls, raw) in responses.items():
    response = cls.model_validate(raw)
    out["responses"][name] = {"result_class": type(response.result).__name__,
                              "dump": response.model_dump(mode="json", exclude_none=True)}
out["responses"]["list[Update]"]["classes"] = [
    type(u).__name__ for u in generic[list[Update]].model_validate(
        responses["list[Update]"][1]).result]
out["responses"]["error"]["retry_after"] = generic[bool].model_validate(
    responses["error"][1]).parameters.retry_after

from aiogram import Bot
bot = Bot("123456:" + "A" * 35)
markup = InlineKeyboardMarkup(inline_keyboard=[[
    InlineKeyboardButton(text="Yes", callback_data="yes"),
    InlineKeyboardButton(text="No", callback_data="no")]])
sent = {
    "SendMessage": methods.SendMessage(chat_id=7, text="Are you safe?", reply_markup=markup),
    "AnswerCallbackQuery": methods.AnswerCallbackQuery(callback_query_id="99", text="ok"),
    "EditMessageReplyMarkup": methods.EditMessageReplyMarkup(chat_id=7, message_id=8,
                                                             reply_markup=None),
    "SetMyCommands": methods.SetMyCommands(
        commands=[BotCommand(command="start", description="Start again"),
                  BotCommand(command="language", description="Language")],
        language_code="pl"),
}
out["methods"] = {}
for name, method in sent.items():
    dump = method.model_dump(warnings=False)
    # what aiogram's session puts in the request, field by field
    form = {k: bot.session.prepare_value(v, bot=bot, files={}) for k, v in dump.items()}
    out["methods"][name] = {"dump": json.loads(json.dumps(dump, default=repr)),
                            "form": {k: v for k, v in form.items() if v is not None},
                            "returning": repr(method.__returning__)}

if mode == "lazy":
    lazy.prebuild(Update, generic[Message], methods.SendMessage, methods.GetUpdates)
    out["prebuilt"] = [c.__pydantic_complete__ for c in
                       (Update, generic[Message], methods.SendMessage, methods.GetUpdates)]
    import importlib
    from aiogram.types.base import TelegramObject
    wrapper = TelegramObject.__dict__["model_rebuild"]
    again = importlib.reload(lazy)
    out["reload_lazy"] = again.LAZY
    out["wrapped_once"] = TelegramObject.__dict__["model_rebuild"] is wrapper
out["hwm_end"] = hwm_mb()
print(json.dumps(out))
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter (aiogram imported from scratch); it must succeed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def run_child(mode: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(python(CHILD, mode).stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def lazy() -> dict[str, Any]:
    return run_child("lazy")


@pytest.fixture(scope="module")
def eager() -> dict[str, Any]:
    return run_child("eager")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_import_uses_far_less_memory(lazy: dict[str, Any], eager: dict[str, Any]) -> None:
    assert lazy["lazy"] is True
    assert lazy["unbuilt_after_import"] > 300  # nearly all of aiogram.types waits for use
    saved = eager["hwm_import"] - lazy["hwm_import"]
    assert saved >= 60, (lazy["hwm_import"], eager["hwm_import"])
    # ...and still after parsing updates, answers and methods
    assert eager["hwm_end"] - lazy["hwm_end"] >= 60, (lazy["hwm_end"], eager["hwm_end"])


def test_updates_parse_as_eagerly_built_models_do(
    lazy: dict[str, Any], eager: dict[str, Any]
) -> None:
    updates = lazy["updates"]
    assert updates == eager["updates"]
    assert {name: u["type"] for name, u in updates.items()} == {
        "text": "message",
        "command": "message",
        "edited": "edited_message",
        "sticker": "message",
        "photo": "message",
        "voice": "message",
        "callback": "callback_query",
    }
    assert updates["text"]["language_code"] == "pl"
    assert updates["text"]["text"] == "my dad is hitting my mum"
    assert updates["command"]["entity"] == "bot_command"
    assert updates["sticker"]["emoji"] == "\N{THUMBS UP SIGN}"
    assert updates["photo"]["largest"] == "P2"
    assert updates["voice"]["duration"] == 3
    assert updates["callback"]["message_class"] == "Message"
    assert updates["callback"]["button"] == "no"
    assert updates["edited"]["dump"]["edited_message"]["edit_date"] == 1700000100


def test_bot_api_responses_parse(lazy: dict[str, Any], eager: dict[str, Any]) -> None:
    responses = lazy["responses"]
    assert responses == eager["responses"]
    assert responses["Message"]["result_class"] == "Message"
    assert responses["Message"]["dump"]["result"]["text"] == "hello"
    assert responses["bool"]["dump"] == {"ok": True, "result": True}
    assert responses["list[Update]"]["classes"] == ["Update", "Update"]
    assert responses["User"]["result_class"] == "User"
    assert responses["User"]["dump"]["result"]["username"] == "frontdoor_bot"
    assert responses["error"]["retry_after"] == 3


def test_methods_serialise(lazy: dict[str, Any], eager: dict[str, Any]) -> None:
    sent = lazy["methods"]
    assert sent == eager["methods"]
    send = sent["SendMessage"]
    assert _without_none(send["dump"]["reply_markup"]) == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }
    assert json.loads(send["form"]["reply_markup"]) == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }
    assert send["form"]["chat_id"] == "7" and send["form"]["text"] == "Are you safe?"
    assert sent["AnswerCallbackQuery"]["form"] == {"callback_query_id": "99", "text": "ok"}
    assert sent["EditMessageReplyMarkup"]["form"] == {"chat_id": "7", "message_id": "8"}
    assert json.loads(sent["SetMyCommands"]["form"]["commands"]) == [
        {"command": "start", "description": "Start again"},
        {"command": "language", "description": "Language"},
    ]
    assert sent["SetMyCommands"]["form"]["language_code"] == "pl"


def _without_none(value: Any) -> Any:
    """A dump without the unset optional fields (which aiogram drops before sending)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_pydantic_is_left_as_it_was(lazy: dict[str, Any]) -> None:
    assert lazy["rebuild_is_pydantic"] is True
    assert lazy["other_library"] == [False, 3]


def test_prebuild_and_reimport(lazy: dict[str, Any]) -> None:
    assert lazy["prebuilt"] == [True, True, True, True]
    assert lazy["reload_lazy"] is True
    assert lazy["wrapped_once"] is True


def test_aiogram_imported_first_stays_eager() -> None:
    late = run_child("late")
    assert late["lazy"] is False
    assert late["unbuilt_after_import"] == 0
    assert late["rebuild_is_pydantic"] is True
    assert late["updates"]["callback"]["message_class"] == "Message"


E2E = r"""
import asyncio, json, sys
import bot.aiogram_lazy as lazy
assert lazy.LAZY
from aiogram.types import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from tests.fake_bot_api import FakeBotAPI

async def main():
    out = {}
    async with FakeBotAPI() as fake:
        bot = fake.make_bot()
        try:
            me = await bot.get_me()
            out["me"] = me.is_bot
            fake.push_text(7, "hello", language_code="pl")
            own = [m for m in fake.messages(7) if m["from"]["id"] == 7][-1]
            fake.push_edited_text(7, own["message_id"], "hello again", language_code="pl")
            fake.push_command(7, "start", language_code="pl")
            fake.push_sticker(7)
            fake.push_photo(7, caption="look")
            fake.push_voice(7)
            updates = await bot.get_updates(timeout=0)
            markup = InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text="Yes", callback_data="yes")]])
            sent = await bot.send_message(7, "Are you safe?", reply_markup=markup)
            out["sent"] = [sent.message_id > 0, sent.reply_markup.inline_keyboard[0][0].text]
            fake.push_callback(7, "yes")
            updates += await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
            out["updates"] = [u.event_type for u in updates]
            out["language"] = updates[0].message.from_user.language_code
            out["callback_message"] = type(updates[-1].callback_query.message).__name__
            out["answered"] = await bot.answer_callback_query(
                updates[-1].callback_query.id, text="ok")
            edited = await bot.edit_message_reply_markup(chat_id=7, message_id=sent.message_id,
                                                         reply_markup=None)
            out["edited"] = type(edited).__name__
            out["commands"] = await bot.set_my_commands(
                [BotCommand(command="start", description="Start again")])
            out["stored_commands"] = fake.commands()
            out["keyboard_sent"] = fake.sent(7)[0]["reply_markup"]
        finally:
            await bot.session.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_real_bot_against_fake_bot_api() -> None:
    """The whole path aiogram takes: methods serialised into requests, answers parsed."""
    out = json.loads(python(E2E).stdout.strip().splitlines()[-1])
    assert out["me"] is True
    assert out["sent"] == [True, "Yes"]
    assert out["updates"] == [
        "message",
        "edited_message",
        "message",
        "message",
        "message",
        "message",
        "callback_query",
    ]
    assert out["language"] == "pl"
    assert out["callback_message"] == "Message"
    assert out["answered"] is True
    assert out["edited"] == "Message"
    assert out["commands"] is True
    assert out["stored_commands"] == [{"command": "start", "description": "Start again"}]
    assert out["keyboard_sent"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}


FAILING_ONCE = r'''
import importlib.abc, json, sys

class FailOnce(importlib.abc.MetaPathFinder):
    """The lazy import breaks half-way (after aiogram.types), as a changed aiogram might."""
    failed = False
    def find_spec(self, name, path=None, target=None):
        if name == "aiogram.dispatcher.dispatcher" and not FailOnce.failed:
            FailOnce.failed = True
            raise RuntimeError("simulated")
        return None

sys.meta_path.insert(0, FailOnce())
import pydantic
pydantic_rebuild = pydantic.BaseModel.__dict__["model_rebuild"]
import bot.aiogram_lazy as lazy
from aiogram.types import Update
update = Update.model_validate({"update_id": 1, "message": {
    "message_id": 1, "date": 1700000000, "chat": {"id": 7, "type": "private"},
    "from": {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "pl"},
    "text": "hi"}})
print(json.dumps({"failed": FailOnce.failed, "lazy": lazy.LAZY, "unbuilt": len(lazy.unbuilt()),
                  "language": update.message.from_user.language_code,
                  "rebuild_is_pydantic":
                      pydantic.BaseModel.__dict__["model_rebuild"] is pydantic_rebuild}))
'''


def test_failed_lazy_import_falls_back_to_aiogram_as_it_was() -> None:
    proc = python(FAILING_ONCE)
    assert "importing it eagerly" in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "failed": True,
        "lazy": False,
        "unbuilt": 0,
        "language": "pl",
        "rebuild_is_pydantic": True,
    }
