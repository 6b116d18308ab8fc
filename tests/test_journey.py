"""A parent's self-referral through the real engine, processor and database.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from flows.types import Flag, Kind
from storage import repo
from storage.models import ConsentRecord, Contact, Conversation, InboxItem, Turn
from storage.types import utcnow
from tests.support.chat import PARENT_JOURNEY, Chat, play


def texts(replies):
    return "\n".join(r.text for r in replies)


async def test_parent_completes_a_self_referral(db):
    chat = Chat(db)
    replies = await chat.command("start")
    assert "qualified social worker" in texts(replies)
    assert "999" in texts(replies)
    replies = await play(chat, PARENT_JOURNEY[1:])
    summary = texts(replies)
    assert "Please check what you've told me" in summary
    assert "Amy, 14/03/2016" in summary and "UB8 1QS" in summary
    replies = await chat.click("submit")
    done = replies[-1]
    assert Flag.SUBMITTED in done.flags
    assert "01895 556006" in done.text and "What happens next" in done.text

    [contact] = await chat.contacts()
    assert contact.reference.startswith("SFH-") and contact.reference in done.text
    assert contact.complete and contact.status == "new"
    assert contact.locality == "south_west" and contact.source == "parent_carer"
    assert contact.urgency == "standard"
    handover = contact.handover
    assert handover["children"][0]["name"] == "Amy"
    assert handover["household"][0]["name"] == "Dan"
    assert handover["address"]["postcode"] == "UB8 1QS"
    assert handover["contact_safety"]["phone"] == "+447911123456"
    answers = {a["step"]: a["answer"] for s in handover["sections"] for a in s["answers"]
               if "step" in a}
    assert answers["father"] == "Yes, but he lives somewhere else"
    assert "behind on rent" in answers["situation"]
    async with db.transaction() as session:
        consent = await session.scalar(select(ConsentRecord))
    assert consent is not None and consent.contact_id == contact.id
    assert consent.referral_consent == "yes" and consent.given_by == "parent_carer"
    assert consent.sharing == "some" and "ex-partner" in consent.sharing_limits
    assert consent.central_storage is True

    status = texts(await chat.command("status"))
    assert contact.reference in status and "waiting to be read" in status


async def test_back_and_change_an_answer_from_the_summary(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:4])  # asked: relationship
    replies = await chat.command("back")
    assert "first name" in replies[-1].text
    replies = await chat.say("Mariam")
    assert "relationship" in replies[-1].text
    await play(chat, PARENT_JOURNEY[4:])
    await chat.click("change")
    replies = await chat.click("change:postcode")
    assert "postcode" in replies[-1].text.lower()
    replies = await chat.say("UB3 1AB")
    assert "Please check" in replies[-1].text and "UB3 1AB" in replies[-1].text
    assert "Mariam" in replies[-1].text
    await chat.click("submit")
    [contact] = await chat.contacts()
    assert contact.locality == "south_east"


async def test_nonsense_answers_get_a_clear_reask_and_change_nothing(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:6])  # asked: Amy's date of birth
    before = (await chat.conversation()).state
    for nonsense, hint in [
        ("yesterday's tomorrow", "couldn't read that as a date"),
        ("31/02/2020", "doesn't exist"),
        ("😀😀😀", "in words"),
        ("x" * 10_000, "too long"),
        ("01/01/2099", "in the future"),
    ]:
        replies = await chat.say(nonsense)
        assert hint in replies[-1].text, nonsense
        assert "Amy's date of birth" in replies[-1].text
        assert (await chat.conversation()).state["answers"] == before["answers"]
    await chat.say("14/03/2016")
    await play(chat, PARENT_JOURNEY[7:20])  # through to the postcode question
    replies = await chat.say("ZZ99")
    assert "full UK postcode" in replies[-1].text


async def test_stickers_photos_and_edits_change_nothing(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:4])
    before = (await chat.conversation()).state
    replies = await chat.send(chat._msg(Kind.UNSUPPORTED, detail="sticker"))
    assert "only read typed messages" in replies[-1].text
    replies = await chat.send(chat._msg(Kind.EDITED, text="Other"))
    assert "kept your first answer" in replies[-1].text
    replies = await chat.say("/frobnicate")
    assert "don't know that command" in replies[-1].text
    assert (await chat.conversation()).state["answers"] == before["answers"]
    assert "relationship" in replies[-1].text


async def test_restart_stop_resume_and_help(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:5])
    replies = await chat.command("stop")
    assert "saved for 30 days" in replies[-1].text
    replies = await chat.say("hello again")
    assert "Welcome back" in replies[-1].text and "first name" in replies[-1].text
    replies = await chat.command("help")
    assert "/back" in replies[-1].text and "01895 556006" in replies[-1].text
    await chat.command("restart")
    replies = await chat.click("yes")
    assert "Hello" in replies[-1].text
    assert (await chat.conversation()).state["answers"] == {}


async def test_delete_my_data_erases_the_chat_and_withdraws_consent(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY)
    await chat.click("submit")
    await chat.command("delete")
    replies = await chat.click("yes")
    assert Flag.ENDED in replies[-1].flags and "withdrawn" in replies[-1].text
    assert await chat.conversation() is None
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Turn)) == 0
        contact = await session.scalar(select(Contact))
        consent = await session.scalar(select(ConsentRecord))
        payloads = [i.payload for i in (await session.scalars(select(InboxItem))).all()]
    # It stays in the queue for an officer's safeguarding decision, marked withdrawn.
    assert contact.status == "new" and consent.withdrawn_at is not None
    assert contact.handover["consent"]["withdrawn_at"]
    assert all("Maria" not in str(p) for p in payloads)


async def test_danger_now_gets_999_in_the_same_reply_and_a_red_contact(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:21])  # asked: what is happening
    replies = await chat.say("My partner is hitting my son right now and I can't stop him")
    first = replies[0]
    assert Flag.EMERGENCY in first.flags
    assert first.text.index("999") < first.text.index("01895 556006")
    assert "call you back" in replies[-1].text
    [contact] = await chat.contacts()
    assert contact.urgency == "immediate" and contact.rag == "red" and not contact.complete
    assert contact.urgency_rank == 0 and contact.risk_evidence
    assert any(topic == "contact.red" for topic, _ in chat.events)
    await chat.click("yes")
    await chat.say("07911 123456")
    await chat.click("later")
    replies = await chat.say("After 6pm when he has gone out")
    assert "passed your number" in replies[-1].text
    assert "What help would you like" in replies[-1].text
    [contact] = await chat.contacts()
    assert contact.handover["callback"]["callback_phone"] == "+447911123456"
    await play(chat, PARENT_JOURNEY[22:])
    await chat.click("submit")
    [contact] = await chat.contacts()  # the same contact, now complete
    assert contact.complete and contact.urgency == "immediate"


async def test_an_address_outside_the_borough_is_told_which_council(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:20])
    replies = await chat.say("UB1 1AA")
    assert "Ealing Council" in replies[-1].text and "www.ealing.gov.uk" in replies[-1].text
    replies = await chat.click("stop")
    assert "Nothing has been sent" in replies[-1].text
    assert await chat.contacts() == []


async def test_young_person_consent_rules(db):
    teen = Chat(db, chat="teen")
    steps = [("command", "start"), ("click", "start"), ("click", "young_person"), ("say", "14"),
             ("say", "Jo"), ("click", "prefer_not"), ("say", "Harefield Academy"),
             ("click", "no"), ("click", "not_involved"), ("click", "no"),
             ("click", "no_fixed_address"),
             ("say", "Things at home are really hard and I feel low all the time"),
             ("say", "Someone to talk to"), ("click", "skip"), ("click", "none")]
    replies = await play(teen, steps)
    assert "You are 14, so you can agree" in replies[-1].text
    await teen.click("yes")
    await play(teen, [("click", "yes"), ("click", "yes"), ("click", "no"), ("click", "yes"),
                      ("click", "submit")])
    async with db.transaction() as session:
        consent = await session.scalar(select(ConsentRecord))
    assert consent.given_by == "young_person" and consent.referral_consent == "yes"
    assert consent.young_person_age == 14

    child = Chat(db, chat="child")
    replies = await play(child, [("command", "start"), ("click", "start"),
                                 ("click", "young_person"), ("say", "10")])
    assert "under 12" in replies[-1].text and "0800 1111" in replies[-1].text


async def test_relative_can_say_telling_parents_is_unsafe(db):
    chat = Chat(db)
    steps = list(PARENT_JOURNEY)
    steps[2] = ("click", "relative_friend")
    steps[4] = ("click", "grandparent")
    consent_at = steps.index(("click", "yes"), 26)
    steps[consent_at] = ("click", "unsafe")
    await play(chat, steps)
    await chat.click("submit")
    async with db.transaction() as session:
        consent = await session.scalar(select(ConsentRecord))
    assert consent.referral_consent == "not_needed"
    assert consent.no_consent_reason == "significant_harm_risk"


async def test_drafts_are_deleted_after_30_days_but_sent_requests_keep_their_record(db):
    draft = Chat(db, chat="draft")
    await play(draft, PARENT_JOURNEY[:6])
    sent = Chat(db, chat="sent")
    await play(sent, PARENT_JOURNEY)
    await sent.click("submit")
    async with db.transaction() as session:
        await session.execute(Conversation.__table__.update().values(
            last_activity_at=utcnow() - timedelta(days=31)))
    async with db.transaction() as session:
        assert await repo.purge_expired_drafts(session, utcnow() - timedelta(days=30)) == 2
    run_after_purge = (await sent.conversation()).run
    async with db.transaction() as session:  # the next rounds find nothing more to do
        assert await repo.purge_expired_drafts(session, utcnow() - timedelta(days=30)) == 0
    assert (await sent.conversation()).run == run_after_purge
    assert await draft.conversation() is None
    [contact] = await sent.contacts()
    async with db.transaction() as session:
        assert await repo.transcript(session, contact)


async def test_one_chats_messages_are_handled_in_order_even_when_sent_at_once(db):
    chat = Chat(db)
    await chat.command("start")
    await chat.click("start")
    await chat.click("parent_carer")
    messages = [chat._msg(Kind.TEXT, text=t) for t in ("Maria", "Mother", "Amy", "7")]
    for message in messages:  # each arrives while the one before is still being handled
        await chat.processor.accept(message)
    await asyncio.sleep(0)
    await chat.processor.idle()
    state = (await chat.conversation()).state
    assert state["answers"]["your_name"]["text"] == "Maria"
    assert state["answers"]["relationship"]["choice"] == "mother"
    assert state["answers"]["children"][0]["name"]["text"] == "Amy"
    assert state["answers"]["children"][0]["dob"]["value"]["age"] == 7


async def test_the_same_update_twice_is_handled_once(db):
    chat = Chat(db)
    message = chat._msg(Kind.COMMAND, command="start")
    assert await chat.processor.accept(message) is True
    assert await chat.processor.accept(message) is False
    await chat.processor.idle()
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(InboxItem)) == 1


async def test_switching_language_keeps_every_answer(db):
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:6])  # asked: Amy's date of birth
    replies = await chat.command("language")
    assert "lang:pl" in [c.id for c in replies[-1].choices]
    replies = await chat.click("lang:pl")
    assert replies[-1].language == "pl" and "Amy" in replies[-1].text
    assert "date of birth" not in replies[-1].text  # the same question, now in Polish
    await chat.say("14/03/2016")
    await chat.command("language")
    replies = await chat.click("lang:en")
    assert "Is Amy a girl or a boy?" in replies[-1].text
    state = (await chat.conversation()).state
    assert state["answers"]["your_name"]["text"] == "Maria"
    assert state["answers"]["children"][0]["dob"]["value"]["dob"] == "2016-03-14"


async def test_a_message_in_another_language_is_offered_a_switch(db):
    chat = Chat(db, language="en")
    await play(chat, PARENT_JOURNEY[:21])  # asked: what is happening, in English
    replies = await chat.say("Mój syn nie chce chodzić do szkoły i ciągle się kłócimy w domu.")
    offer = replies[-1]
    assert offer.language == "pl" and "lang:pl" in [c.id for c in offer.choices]
    replies = await chat.click("lang:pl")
    assert replies[-1].language == "pl"
    state = (await chat.conversation()).state
    assert "szkoły" in state["answers"]["situation"]["text"]


async def test_closed_contacts_are_erased_after_the_retention_period_unless_held(db):
    from storage.models import AuditEvent

    chats = [Chat(db, chat=name) for name in ("old", "held", "recent")]
    for chat in chats:
        await play(chat, PARENT_JOURNEY)
        await chat.click("submit")
    profile_days = chats[0].processor.engine.profile.closed_retention_days
    long_ago = utcnow() - timedelta(days=profile_days + 1)
    async with db.transaction() as session:
        for contact in (await session.scalars(select(Contact))).all():
            contact.status = "closed"
            contact.closed_at = utcnow() if contact.chat == "recent" else long_ago
            contact.safeguarding_hold = contact.chat == "held"
    await chats[0].processor.purge()
    async with db.transaction() as session:
        left = sorted(c.chat for c in (await session.scalars(select(Contact))).all())
        consents = await session.scalar(select(func.count()).select_from(ConsentRecord))
        details = [a.detail for a in (await session.scalars(select(AuditEvent))).all()]
    assert left == ["held", "recent"] and consents == 2
    assert {"erased": True} in details  # the audit trail stays, without the details
    assert await chats[0].contacts() == []  # the old one is gone, transcript included
