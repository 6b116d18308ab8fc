"""The web chat over a real websocket, in-process, against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.web import resume
from flows import events
from flows.types import Flag, Reply
from storage import repo
from storage.db import Database
from storage.models import ConsentRecord, Contact, Conversation, InboxItem, OutboxItem
from storage.web import WebResumeCode
from tests.support.chat import PARENT_JOURNEY
from tests.web.conftest import texts
from tests.web.support import WebServer, WebUser


async def _one(db: Database, stmt: Any) -> Any:
    async with db.transaction() as session:
        return await session.scalar(stmt)


async def test_a_parent_completes_a_self_referral_over_the_websocket(
    server: WebServer, any_db_user: WebUser
) -> None:
    user = any_db_user
    welcome = await user.connect()
    assert resume.valid_token(welcome["session"]) and welcome["resumed"] is False
    replies = await user.play(PARENT_JOURNEY)
    assert "Please check what you've told me" in replies[-1]["text"]
    replies = await user.click("submit")
    done = replies[-1]
    assert "submitted" in done["flags"] and "Your reference is SFH-" in done["text"]

    db = server.runtime.db
    contact = await _one(db, select(Contact))
    consent = await _one(db, select(ConsentRecord))
    assert contact.channel == "web" and contact.complete and contact.language == "en"
    assert contact.chat == "w" + hashlib.sha256(welcome["session"].encode()).hexdigest()
    assert contact.reference in done["text"] and contact.locality == "south_west"
    assert consent.contact_id == contact.id and consent.referral_consent == "yes"
    # Every reply was acknowledged, so the outbox holds nothing for the web any more.
    assert (
        await _one(
            db,
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.channel == "web", OutboxItem.sent_at.is_(None)),
        )
        == 0
    )


async def test_replies_wait_for_the_window_to_come_back(
    sqlite_server: WebServer, user: WebUser
) -> None:
    await user.connect()
    await user.command("start")
    session = user.session
    await user.send({"type": "choice", "choice": "start", "id": "gone-1"})
    await user.disconnect()  # the phone lost signal before the answer came
    await asyncio.sleep(0.5)
    back = WebUser(sqlite_server)
    try:
        await back.connect(session=session)
        reply = await back.wait_for("reply")
        assert "Who are you?" in reply["reply"]["text"]
        # The same message sent again after reconnecting (no confirmation seen) is one message.
        before = len(back.frames)
        await back.send({"type": "choice", "choice": "start", "id": "gone-1"})
        await back.wait_for("received", after=before)
        await asyncio.sleep(0.4)
        assert back.replies(before) == []
    finally:
        await back.close()


async def test_a_resume_code_brings_the_answers_back(
    server: WebServer, any_db_user: WebUser
) -> None:
    user = any_db_user
    await user.connect()
    await user.play(PARENT_JOURNEY[:4])  # asked: relationship
    before = len(user.frames)
    await user.send({"type": "code"})
    shown = (await user.wait_for("code", after=before))["code"]
    assert shown[5] == "-" and len(shown) == 11 and shown.count("-") == 1
    await user.close()

    db = server.runtime.db
    stored = await _one(db, select(WebResumeCode))
    assert stored.code_hash == resume.digest(shown.replace("-", ""))
    assert shown.replace("-", "") not in str(stored.__dict__)

    # While they are away the hub answers (as the officer console does, via the outbox).
    async with db.transaction() as session:
        await repo.enqueue_reply(
            session,
            "web",
            stored.chat,
            Reply(text="Hello Maria, this is Sam at the hub.", flags=frozenset({Flag.HUB_REPLY})),
        )
    server.runtime.bus.emit(events.OUTBOX, {"channel": "web"})

    later = WebUser(server)
    try:
        await later.connect()
        await later.command("start")  # a new, empty chat on another device
        before = len(later.frames)
        await later.send({"type": "resume", "code": "BBBBB-BBBBB"})
        error = await later.wait_for("error", after=before)
        assert error["code"] == "code_bad" and "didn't work" in error["message"]
        before = len(later.frames)
        await later.send({"type": "resume", "code": shown.lower().replace("-", " ")})
        assert (await later.wait_for("resumed", after=before))["code"] == shown
        hub = (await later.wait_for("reply", after=before))["reply"]
        assert hub["flags"] == ["hub_reply"] and "Sam at the hub" in hub["text"]
        replies = await later.command("start")
        assert "Welcome back" in texts(replies)
        replies = await later.click("resume")
        assert "relationship" in replies[-1]["text"]
        conversation = await _one(db, select(Conversation).order_by(Conversation.id))
        assert conversation.state["answers"]["your_name"]["text"] == "Maria"
        assert await _one(db, select(func.count()).select_from(Conversation)) == 2
    finally:
        await later.close()


async def test_wrong_codes_are_limited(sqlite_server: WebServer, user: WebUser) -> None:
    await user.connect()
    codes = []
    for n in range(6):
        before = len(user.frames)
        await user.send({"type": "resume", "code": f"BBBBB-BBBB{'BCDFGH'[n]}"})
        codes.append((await user.wait_for("error", after=before))["code"])
        await asyncio.sleep(0.25)  # stay under the message rate limit
    assert codes == ["code_bad"] * 5 + ["code_busy"]


async def test_flooding_and_oversized_messages_get_a_kind_answer(
    limited_server: WebServer, limited_user: WebUser
) -> None:
    user = limited_user
    await user.connect()
    await user.command("start")
    db = limited_server.runtime.db
    inbox_before = await _one(db, select(func.count()).select_from(InboxItem))

    before = len(user.frames)
    await user.send({"type": "text", "id": "big", "text": "ب" * 2100})  # 4200 bytes
    error = await user.wait_for("error", after=before)
    assert error["code"] == "too_long" and error["id"] == "big"
    assert "too long" in error["message"]
    before = len(user.frames)
    await user.send({"type": "text", "id": "huge", "text": "x" * 40_000})
    error = await user.wait_for("error", after=before)
    assert error["code"] == "too_long" and "id" not in error

    await asyncio.sleep(1.0)  # the bucket is full again
    for n in range(12):
        await user.send({"type": "text", "id": f"flood{n}", "text": "hello"})
    await asyncio.sleep(0.5)
    refused = [f for f in user.frames if f["type"] == "error" and f["code"] == "slow_down"]
    accepted = [
        f for f in user.frames if f["type"] == "received" and str(f["id"]).startswith("flood")
    ]
    assert len(accepted) <= 6 and len(refused) >= 6
    assert "quickly" in refused[0]["message"]
    inbox_after = await _one(db, select(func.count()).select_from(InboxItem))
    assert inbox_after - inbox_before == len(accepted)


async def test_danger_now_is_flagged_as_an_emergency_on_the_web(
    sqlite_server: WebServer, user: WebUser
) -> None:
    await user.connect()
    await user.play(PARENT_JOURNEY[:21])  # asked: what is happening
    replies = await user.say("My partner is hitting my son right now and I can't stop him")
    assert "emergency" in replies[0]["flags"]
    assert replies[0]["text"].index("999") < replies[0]["text"].index("01895 556006")
    contact = await _one(sqlite_server.runtime.db, select(Contact))
    assert contact.urgency == "immediate" and contact.channel == "web"


async def test_delete_forgets_the_chat_and_its_resume_code(
    sqlite_server: WebServer, user: WebUser
) -> None:
    await user.connect()
    await user.play(PARENT_JOURNEY[:4])
    await user.send({"type": "code"})
    await user.wait_for("code")
    await user.command("delete")
    before = len(user.frames)
    replies = await user.click("yes")
    assert "deleted" in replies[-1]["text"]
    await user.wait_for("forget", after=before)
    db = sqlite_server.runtime.db
    assert await _one(db, select(func.count()).select_from(WebResumeCode)) == 0


async def test_commands_unknown_commands_and_bad_frames(
    sqlite_server: WebServer, user: WebUser
) -> None:
    await user.connect()
    await user.command("start")
    replies = await user.command("help")
    assert "/back" in texts(replies)
    replies = await user.command("frobnicate")
    assert "don't know that command" in texts(replies)
    before = len(user.frames)
    await user.send({"type": "dance"})
    assert (await user.wait_for("error", after=before))["code"] == "bad_message"
    assert user.ws is not None
    before = len(user.frames)
    await user.ws.send_str("not json")
    assert (await user.wait_for("error", after=before))["code"] == "bad_message"


async def test_a_press_on_an_earlier_questions_button_is_refused(
    sqlite_server: WebServer, user: WebUser
) -> None:
    # PARENT_JOURNEY[14] and [15]: two questions in a row answered "No" (a second tab, or a
    # page whose buttons were not disabled, could press the first one's again).
    await user.connect()
    await user.play(PARENT_JOURNEY[:14])
    first = user.last
    [second] = await user.click("no")
    assert second["question"] != first["question"]
    replies = await user.turn({"type": "choice", "choice": "no",
                               "question": first["question"]})
    assert "That button belongs to an earlier question" in texts(replies)
    assert replies[-1]["question"] == second["question"]
    before = len(user.frames)
    await user.send({"type": "choice", "choice": "no", "question": 7})
    assert (await user.wait_for("error", after=before))["code"] == "bad_message"


async def test_messages_before_hello_and_from_other_sites_are_refused(
    sqlite_server: WebServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(sqlite_server.ws_url) as ws:
            await ws.send_json({"type": "text", "text": "hi", "id": "x"})
            frame = await ws.receive_json(timeout=5)
            assert frame == {"type": "error", "code": "no_hello"}
        try:
            await http.ws_connect(sqlite_server.ws_url, headers={"Origin": "https://evil.example"})
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 403
        else:
            raise AssertionError("a cross-site websocket was accepted")


async def test_the_web_sender_claims_replies_for_the_configured_lease(
    sqlite_template: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """FRONTDOOR_OUTBOX_LEASE governs the web chat's sender too (it once kept its own 60 s):
    a claimed reply is held for the configured lease."""
    from tests.web.support import start_server

    running = await start_server(sqlite_template.copy(tmp_path), monkeypatch, rate=100.0,
                                 outbox_lease=7.0)
    person = WebUser(running)
    try:
        await person.connect()
        await person.command("start")
        db = running.runtime.db
        async with db.transaction() as session:
            sent = (await session.scalars(select(OutboxItem).where(
                OutboxItem.channel == "web", OutboxItem.sent_at.is_not(None)))).all()
        assert sent
        for item in sent:  # the claim moved next_attempt_at `lease` seconds past the claim
            held = (item.next_attempt_at - item.created_at).total_seconds()
            assert 7.0 <= held < 30.0, held
    finally:
        await person.close()
        await running.close()
