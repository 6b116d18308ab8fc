"""Professionals on Telegram: the real bot process over the local fake Bot API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from profiles import load_profile
from storage.db import Database
from storage.models import ConsentRecord, Contact
from tests.support.botproc import TelegramUser
from triage.outcome import Decision, record

pytestmark = pytest.mark.slow


async def until_guidance(user: TelegramUser, household: str, age: str) -> None:
    for _ in range(10):
        buttons = user.buttons()
        if "refer" in buttons and "another" in buttons:
            return
        text = user.last["text"]
        if "Who lives with the child" in text:
            await user.say(household)
        elif "How old is the child" in text:
            await user.say(age)
        else:
            await user.click("no" if "no" in buttons else buttons[0])
    raise AssertionError(user.last["text"])


def start(role: str, org: str, name: str, email: str, phone: str) -> list[tuple[str, str]]:
    return [("command", "start"), ("click", "start"), ("click", "professional"),
            ("click", role), ("say", org), ("say", name), ("say", email), ("say", phone)]


async def contacts_and_consents(url: str) -> tuple[list[Contact], list[ConsentRecord]]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return (list((await session.scalars(select(Contact))).all()),
                    list((await session.scalars(select(ConsentRecord))).all()))
    finally:
        await db.dispose()


async def test_dsl_attendance_referral_without_consent_and_the_outcome_notice(
    db_url, fake, bot
):
    dsl = TelegramUser(fake, 3101)
    await dsl.play([*start("dsl", "Harlington Primary", "Sam Okafor", "s.okafor@hps.org.uk",
                           "020 8123 4567"),
                    ("click", "refer"),
                    ("say", "Year 5 girl, attendance is down to 68% and she often says she "
                            "has a stomach ache on Mondays.")])
    await until_guidance(dsl, "Mum and two brothers. Dad lives in Slough.", "10")
    assert "Persistent absence" in dsl.last["text"]
    await dsl.play([("click", "refer"), ("click", "attendance"), ("say", "Ada Okonkwo")])
    if "date of birth" in dsl.last["text"]:
        await dsl.say("02/02/2016")
    await dsl.play([("click", "girl"), ("say", "7 Dawley Road"), ("say", "UB3 1LR"),
                    ("click", "not_known"), ("click", "elsewhere"), ("click", "no"),
                    ("click", "attendance"), ("say", "68%"), ("click", "no"),
                    ("say", "Letters 1 and 2 sent; letter 3 is due next week."),
                    ("click", "none"), ("click", "no"),
                    ("say", "A Participation Team worker and a plan for Mondays"),
                    ("say", "She says she feels sick before school"), ("click", "not_known"),
                    ("click", "no"), ("click", "attendance_or_cme"),
                    ("say", "Attendance referral; mum has not replied to three calls."),
                    ("click", "not_asked"), ("click", "not_asked")])
    assert "Please check the referral" in dsl.last["text"]
    replies = await dsl.click("submit")
    assert "within one working day" in replies[-1]["text"]
    [contact], [consent] = await contacts_and_consents(db_url)
    assert contact.source == "school" and contact.journey == "professional"
    assert consent.referral_consent == "not_needed"
    assert consent.no_consent_reason == "attendance_or_cme"
    assert "three calls" in consent.no_consent_explanation

    # An officer records the outcome: the DSL is told in the channel they used.
    db = Database(db_url)
    async with db.transaction() as session:
        row = await session.get(Contact, contact.id)
        await record(session, row, Decision(category="poor_school_attendance", rag="amber",
                                            outcome="refer_to_stronger_families"),
                     actor="olivia", profile=load_profile(), now=datetime.now(UTC))
    await db.dispose()
    notice = await fake.wait_for(lambda: [m for m in dsl.sent()
                                          if "Refer to Stronger Families" in m["text"]], 15)
    assert contact.reference in notice[-1]["text"]
    replies = await dsl.click("cmd:disagree")
    assert "Assistant Director" in replies[-1]["text"]


async def test_health_visitor_early_health_notification(db_url, fake, bot):
    hv = TelegramUser(fake, 3102)
    await hv.play([*start("health_visitor", "Hillingdon 0-19 Service", "Priya Patel",
                          "priya.patel@nhs.net", "01895 111222"),
                   ("click", "refer"),
                   ("say", "Two year old boy with no words yet and not responding to his "
                           "name. Parents think he may be deaf and want help.")])
    await until_guidance(hv, "Mum and dad", "2")
    await hv.play([("click", "refer"), ("click", "ehn"), ("say", "Leo Patel")])
    if "date of birth" in hv.last["text"]:
        await hv.say("10/06/2024")
    await hv.play([("click", "boy"), ("say", "3 Church Lane"), ("say", "HA4 7AB"),
                   ("say", "Little Stars Nursery"), ("click", "not_known"),
                   ("say", "9434765919"), ("click", "in_household"), ("click", "no"),
                   ("click", "no"), ("click", "sensory_physical"), ("click", "hi"),
                   ("click", "no"), ("click", "no"), ("click", "newborn_hearing"),
                   ("say", "Hearing assessment and early years SEND advice"),
                   ("click", "not_known"), ("say", "They want him assessed quickly"),
                   ("click", "yes"), ("click", "yes"), ("click", "yes")])
    assert "Early Health Notification" in hv.last["text"]
    await hv.click("submit")
    [contact], [consent] = await contacts_and_consents(db_url)
    assert contact.source == "health" and contact.locality == "north"
    assert consent.referral_consent == "yes" and consent.given_by == "professional"
    answers = {a["step"]: a["answer"] for s in contact.handover["sections"]
               for a in s["answers"] if "step" in a}
    assert answers["prof_pathway"] == "Early Health Notification (health professionals only)"
    assert answers["prof_nhs"] == "943 476 5919"
    assert answers["prof_ehn_service"] == "New-born hearing screening"
