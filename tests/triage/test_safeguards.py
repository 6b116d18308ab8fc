"""Console controls for safeguarding: block an abusive sender, keep a contact for safeguarding.

Real aiohttp servers with signed-in officers, the real processor and engine for the blocked
chat, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from flows.engine import Engine
from flows.events import EventBus
from flows.processor import Processor
from flows.types import Flag
from profiles import load_profile
from storage.abuse import BlockedSender
from storage.db import Database
from storage.holds import SafeguardingHold
from storage.models import AuditEvent, Contact, InboxItem, Turn
from storage.repo import audit, purge_closed_contacts
from storage.subject import erase_person
from storage.types import utcnow
from tests.support.chat import Chat
from tests.triage.conftest import (
    OfficerLogin,
    add_contact,
    add_officer,
    add_token,
    login,
    make_app,
)

Client = TestClient[Any, Any]
CHAT = "424242"
DANGER = "He said he will kill himself tonight"


@asynccontextmanager
async def signed_in(db: Database, officer: OfficerLogin) -> AsyncIterator[tuple[Client, str]]:
    async with TestClient(TestServer(make_app(db, EventBus()))) as client:
        token = await login(client, officer)
        yield client, token


async def events(db: Database, action: str) -> list[AuditEvent]:
    async with db.transaction() as session:
        return list((await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )).all())


async def fresh(db: Database, reference: str) -> Contact:
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact).where(Contact.reference == reference))
    assert contact is not None
    return contact


def person(db: Database) -> Chat:
    """The sender, on Telegram, through the profile's own limits."""
    return Chat(db, channel="telegram", chat=CHAT,
                processor=Processor(db, Engine(load_profile()), EventBus()))


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where))
                   or 0)


# --- blocking ------------------------------------------------------------------------------

async def test_a_manager_blocks_a_sender_and_the_chat_is_not_handled(db: Database) -> None:
    contact = await add_contact(db, chat=CHAT)
    manager = await add_officer(db, "mona", role="manager")
    chat = person(db)
    await chat.command("start")  # the person had started before the block
    turns_before = await count(db, Turn)

    async with signed_in(db, manager) as (client, token):
        page = await client.get(f"/console/contacts/{contact.reference}")
        assert "Block this sender" in await page.text()
        missing = await client.post(f"/console/contacts/{contact.reference}/block",
                                    data={"csrf_token": token, "reason": "  "})
        assert missing.status == 400 and "Give a reason" in await missing.text()
        done = await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "Threatening messages to officers"})
        body = await done.text()
        assert done.status == 200 and "The sender is blocked" in body
        assert "Sender blocked" in body and "Unblock this sender" in body
        again = await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "twice"})
        assert again.status == 400 and "already blocked" in await again.text()

    [event] = await events(db, "block_sender")
    assert event.actor == "mona" and event.contact_id == contact.id
    assert CHAT not in str(event.detail) and "Threatening" not in str(event.detail)
    assert event.detail["channel"] == "telegram" and event.detail["until"] is None

    [notice] = await chat.say("hello?")
    assert "paused messages from this chat" in notice.text
    assert "999" in notice.text and "01895 556006" in notice.text
    assert await chat.say("why?") == []  # once an hour, not every message
    chat.last = None  # pressing a button sent before the block
    assert await chat.click("start") == []
    assert await count(db, Turn) == turns_before  # nothing reached the journey
    assert await count(db, InboxItem, InboxItem.chat == CHAT) == 1  # only the /start
    assert await count(db, Contact) == 1


async def test_a_danger_disclosure_from_a_blocked_sender_still_reaches_the_queue(
        db: Database) -> None:
    contact = await add_contact(db, chat=CHAT)
    manager = await add_officer(db, "mona", role="manager")
    async with signed_in(db, manager) as (client, token):
        await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "Abuse"})
        chat = person(db)
        assert len(await chat.say("hello")) == 1  # the blocked notice

        replies = await chat.say(DANGER)
        assert Flag.EMERGENCY in replies[0].flags and "999" in replies[0].text
        red = [c for c in await chat.contacts() if c.id != contact.id]
        assert [c.urgency for c in red] == ["immediate"]
        [flagged] = await events(db, "blocked_sender_risk")
        assert flagged.detail["urgency"] == "immediate"
        assert await chat.say("and then?") == []  # still blocked for everything else
        page = await (await client.get(f"/console/contacts/{red[0].reference}")).text()
        assert "Sender blocked" in page  # the officer sees who it came from


async def test_only_managers_block_and_the_list_unblocks(db: Database) -> None:
    contact = await add_contact(db, chat=CHAT)
    officer = await add_officer(db, "olly")
    manager = await add_officer(db, "mona", role="manager")
    async with signed_in(db, officer) as (client, token):
        page = await (await client.get(f"/console/contacts/{contact.reference}")).text()
        assert "Block this sender" not in page
        refused = await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "no"})
        assert refused.status == 403
        assert (await client.get("/console/blocked")).status == 403
    assert await count(db, BlockedSender) == 0

    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    async with signed_in(db, manager) as (client, token):
        past = await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "Abuse", "until": "2020-01-01"})
        assert past.status == 400 and "today or later" in await past.text()
        await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "Abuse <b>bold</b>", "until": tomorrow})
        listing = await (await client.get("/console/blocked")).text()
        assert contact.reference in listing and "Abuse &lt;b&gt;bold&lt;/b&gt;" in listing
        assert CHAT not in listing  # the chat id is not shown, the contact is
        async with db.transaction() as session:
            block = await session.scalar(select(BlockedSender))
        assert block is not None and block.until is not None
        done = await client.post(f"/console/blocked/{block.id}/unblock",
                                 data={"csrf_token": token})
        assert done.status == 200 and "unblocked" in await done.text()
        gone = await client.post(f"/console/blocked/{block.id}/unblock",
                                 data={"csrf_token": token})
        assert gone.status == 409
    [event] = await events(db, "unblock_sender")
    assert event.contact_id == contact.id and event.detail == {"block": block.id,
                                                               "channel": "telegram"}
    replies = await person(db).command("start")
    assert replies and "paused" not in replies[0].text  # handled normally again


async def test_a_block_runs_out_at_its_end_date(db: Database) -> None:
    contact = await add_contact(db, chat=CHAT)
    manager = await add_officer(db, "mona", role="manager")
    async with signed_in(db, manager) as (client, token):
        await client.post(f"/console/contacts/{contact.reference}/block", data={
            "csrf_token": token, "reason": "Abuse",
            "until": utcnow().date().isoformat()})
    chat = person(db)
    assert "paused" in (await chat.command("start"))[0].text
    async with db.transaction() as session:
        block = await session.scalar(select(BlockedSender))
        assert block is not None
        block.until = utcnow() - timedelta(seconds=1)
    replies = await chat.command("start")
    assert replies and "paused" not in replies[0].text


# --- keep for safeguarding ------------------------------------------------------------------

async def _post(client: Client, token: str, reference: str, action: str,
                reason: str = "") -> tuple[int, str]:
    response = await client.post(f"/console/contacts/{reference}/{action}",
                                 data={"csrf_token": token, "reason": reason})
    return response.status, await response.text()


async def test_the_holder_keeps_a_contact_and_a_manager_lifts_it(db: Database) -> None:
    contact = await add_contact(db, chat=CHAT)
    ref = contact.reference
    officer = await add_officer(db, "olly")
    other = await add_officer(db, "otto")
    manager = await add_officer(db, "mona", role="manager")

    async with signed_in(db, other) as (client, token):
        assert (await _post(client, token, ref, "hold", "Mine"))[0] == 409  # not holding it
    async with signed_in(db, officer) as (client, token):
        await client.post(f"/console/contacts/{ref}/claim", data={"csrf_token": token})
        status, body = await _post(client, token, ref, "hold", "")
        assert status == 400 and "Give a reason" in body
        status, body = await _post(client, token, ref, "hold",
                                   "Police enquiry open about the children")
        assert status == 200 and "kept for safeguarding" in body
        assert "Police enquiry open" in body and "A manager can lift the hold" in body
        assert (await _post(client, token, ref, "hold/lift", "no"))[0] == 403
        queue = await (await client.get("/console/?view=mine")).text()
        assert 'class="tag kept"' in queue

    assert (await fresh(db, ref)).safeguarding_hold
    [kept] = await events(db, "safeguarding_hold")
    assert kept.actor == "olly" and "Police" not in str(kept.detail)
    async with db.transaction() as session:
        result = await erase_person(session, "telegram", CHAT, utcnow())
    assert result == {"erased": [], "held": [ref]}

    async with signed_in(db, manager) as (client, token):
        assert (await _post(client, token, ref, "hold/lift", " "))[0] == 400
        status, body = await _post(client, token, ref, "hold/lift", "Enquiry closed")
        assert status == 200 and "hold is lifted" in body
        assert (await _post(client, token, ref, "hold/lift", "again"))[0] == 400
    assert not (await fresh(db, ref)).safeguarding_hold
    [lifted] = await events(db, "safeguarding_hold_lifted")
    assert lifted.actor == "mona" and lifted.contact_id == contact.id
    async with db.transaction() as session:
        [row] = (await session.scalars(select(SafeguardingHold))).all()
        assert row.set_by == "olly" and row.lifted_by == "mona"
        assert row.lift_reason == "Enquiry closed"
        result = await erase_person(session, "telegram", CHAT, utcnow())
    assert result == {"erased": [ref], "held": []}
    assert await count(db, SafeguardingHold) == 0  # the reasons went with the contact


async def test_a_held_closed_contact_survives_the_retention_purge(db: Database) -> None:
    old = utcnow() - timedelta(days=3000)
    kept = await add_contact(db, status="closed", closed_at=old)
    gone = await add_contact(db, status="closed", closed_at=old)
    officer = await add_officer(db, "olly")
    manager = await add_officer(db, "mona", role="manager")
    async with signed_in(db, officer) as (client, token):
        status, body = await _post(client, token, kept.reference, "hold", "Court case")
        assert status == 403 and "ask a manager" in body
    async with signed_in(db, manager) as (client, token):
        assert (await _post(client, token, kept.reference, "hold", "Court case"))[0] == 200
        api = await add_token(db, "cms", ["contacts:read"])
        shown = await client.get(f"/api/contacts/{kept.reference}",
                                 headers={"Authorization": f"Bearer {api}"})
        assert (await shown.json())["safeguarding_hold"] is True
    async with db.transaction() as session:
        assert await purge_closed_contacts(session, utcnow() - timedelta(days=2190)) == 1
    assert await count(db, Contact, Contact.id == kept.id) == 1
    assert await count(db, Contact, Contact.id == gone.id) == 0


async def test_a_withdrawn_contact_prompts_the_officer_to_decide(db: Database) -> None:
    withdrawn_at = utcnow().isoformat()
    contact = await add_contact(db, chat=CHAT, handover={
        "journey": "self_referral", "sections": [], "consent": {"withdrawn_at": withdrawn_at}})
    async with db.transaction() as session:
        await audit(session, "person", "consent_withdrawn", contact_id=contact.id)
    officer = await add_officer(db, "olly")

    async with signed_in(db, officer) as (client, token):
        queue = await (await client.get("/console/")).text()
        assert "consent withdrawn: decide" in queue
        page = await (await client.get(f"/console/contacts/{contact.reference}")).text()
        assert "The person withdrew their consent" in page
        assert "keep this contact for safeguarding" in page
        await client.post(f"/console/contacts/{contact.reference}/claim",
                          data={"csrf_token": token})
        status, page = await _post(client, token, contact.reference, "hold",
                                   "Child protection enquiry under way")
        assert status == 200 and "The person withdrew their consent" not in page
        queue = await (await client.get("/console/?view=mine")).text()
        assert "consent withdrawn" in queue and "consent withdrawn: decide" not in queue
    [kept] = await events(db, "safeguarding_hold")
    assert kept.detail["withdrawn"] is True
