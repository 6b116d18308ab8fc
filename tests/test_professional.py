"""Professionals: threshold guidance, then a pre-filled referral with the portal's pathways."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from flows.duty import duty_now
from profiles import load_profile
from storage.models import ConsentRecord, Contact
from tests.support.chat import Chat, play

DSL_START = [
    ("command", "start"), ("click", "start"), ("click", "professional"), ("click", "dsl"),
    ("say", "Oak Farm Primary School"), ("say", "Jane Smith"),
    ("say", "j.smith@oakfarm.sch.uk"), ("say", "01895 250000"),
]

async def until_guidance(chat: Chat, household: str, age: str = "8") -> None:
    """Answer the follow-up questions (no, unless told otherwise) until the guidance shows."""
    for _ in range(10):
        offered = [c.id for c in chat.last.choices]
        if "refer" in offered and "another" in offered:
            return
        if "Who lives with the child" in chat.last.text:
            await chat.say(household)
        elif "How old is the child" in chat.last.text:
            await chat.say(age)
        else:
            await chat.click("no" if "no" in offered else offered[0])
    raise AssertionError(f"no guidance after the follow-ups: {chat.last.text!r}")


ATTENDANCE = "Year 4 boy, attendance has dropped to 71% this year and he is often late."


async def test_dsl_gets_guidance_then_an_attendance_referral_without_consent(db):
    chat = Chat(db)
    replies = await play(chat, [*DSL_START, ("click", "threshold"), ("say", ATTENDANCE)])
    # Only the questions that could change the level are asked: the age was not given.
    assert "How old is the child" in replies[-1].text
    await chat.say("8")
    await until_guidance(chat, "Mum, her partner Lee, and two younger sisters. Dad lives in "
                               "Hayes.")
    guidance = chat.last.text
    assert "Persistent absence" in guidance and "71%" in guidance
    assert "qualified social worker" in guidance
    await chat.click("refer")
    replies = await chat.click("attendance")
    # Nothing asked twice: the age and the school are known already.
    assert "full name" in replies[-1].text
    steps = [("say", "Adam Jones"), ("click", "boy"), ("say", "14 Station Road"),
             ("say", "UB3 4AB"), ("say", "H801200001001"), ("click", "partner"),
             ("click", "no"), ("click", "attendance"), ("say", "71"), ("click", "yes"),
             ("say", "03/10/2026"), ("click", "no"),
             ("say", "Support with morning routines and a key worker"),
             ("click", "not_known"), ("click", "not_known"), ("click", "no"),
             ("click", "attendance_or_cme"),
             ("say", "Mum has not answered calls or letters; attendance referrals don't need "
                     "consent."),
             ("click", "not_asked"), ("click", "not_asked")]
    replies = await play(chat, steps)
    summary = replies[-1].text
    assert "Please check the referral" in summary and "Jane Smith" in summary
    assert "71" in summary and "H801200001001" in summary
    replies = await chat.click("submit")
    assert "within one working day" in replies[-1].text
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact))
        consent = await session.scalar(select(ConsentRecord))
    assert contact.journey == "professional" and contact.source == "school"
    assert contact.locality == "south_east"
    assert consent.given_by == "professional" and consent.referral_consent == "not_needed"
    assert consent.no_consent_reason == "attendance_or_cme"
    assert "not answered calls" in consent.no_consent_explanation
    handover = contact.handover
    assert handover["referrer"]["email"] == "j.smith@oakfarm.sch.uk"
    assert handover["guidance"]["level"] == 3
    assert "persistent_absence" in handover["guidance"]["indicators"]
    assert "male_carer_in_household" in handover["guidance"]["indicators"]
    answers = {a["step"]: a["answer"] for s in handover["sections"] for a in s["answers"]
               if "step" in a}
    assert answers["prof_att_pct"] == "71.0" and answers["prof_letters"] == "Yes"
    assert answers["prof_upn"] == "H801200001001"


async def test_health_visitor_sends_an_early_health_notification(db):
    chat = Chat(db)
    start = [("command", "start"), ("click", "start"), ("click", "professional"),
             ("click", "health_visitor"), ("say", "Hillingdon 0-19 Service"),
             ("say", "Priya Patel"), ("say", "priya.patel@nhs.net"), ("say", "01895 111222"),
             ("click", "refer"),
             ("say", "18 month old girl not walking or babbling yet, slow to reach her "
                     "milestones; parents are worried and want help.")]
    await play(chat, start)
    await until_guidance(chat, "Mum and dad, both at home", age="18 months")
    await chat.click("refer")
    assert "ehn" in [c.id for c in chat.last.choices]
    await play(chat, [("click", "ehn"), ("say", "Lily Patel")])
    if "date of birth" in chat.last.text:
        await chat.say("14/05/2025")
    steps = [("click", "girl"),
             ("say", "3 Church Lane"), ("say", "HA4 7AB"), ("click", "none")]
    await play(chat, steps)
    assert "UPN" in chat.last.text
    await chat.click("not_known")
    replies = await chat.say("943 476 5918")  # wrong check digit
    assert "doesn't pass its check" in replies[-1].text
    await chat.say("943 476 5919")
    assert "father" in chat.last.text.lower()
    steps = [("click", "in_household"), ("click", "yes"), ("click", "no"),
             ("click", "slcn"), ("click", "slcn"), ("click", "no"), ("click", "no")]
    await play(chat, steps)
    assert "Early Health Notification" in chat.last.text
    steps = [("click", "early_years_send"), ("say", "Early years SEND advice and portage"),
             ("click", "not_known"), ("say", "They want to know how to help her talk"),
             ("click", "yes"), ("click", "yes"), ("click", "yes"), ("click", "submit")]
    await play(chat, steps)
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact))
    assert contact.source == "health" and contact.locality == "north"
    assert contact.handover["guidance"]["level"] in (2, 3)
    assert "missed_health_appointments" in contact.handover["guidance"]["indicators"]
    answers = {a["step"]: a["answer"] for s in contact.handover["sections"]
               for a in s["answers"] if "step" in a}
    assert answers.get("prof_nhs") == "943 476 5919", ", ".join(answers)
    assert answers["prof_ehn_service"] == "Early Years SEND Advisory Team"


async def test_school_holiday_fines_go_to_leap_without_an_assessment(db):
    chat = Chat(db)
    await play(chat, [*DSL_START, ("click", "refer"),
                      ("say", "Parent asking about a fine for taking her son on holiday in "
                              "term time.")])
    await until_guidance(chat, "I don't know", age="9")
    await chat.click("refer")
    replies = await chat.click("holiday_fine")
    assert "LEAP" in replies[-1].text
    assert await chat.contacts() == []


async def test_disagreeing_with_a_decision_gives_the_escalation_route(db):
    chat = Chat(db)
    replies = await chat.command("disagree")
    assert "team manager" in replies[-1].text and "Assistant Director" in replies[-1].text


def test_duty_knows_out_of_hours_from_the_profile_shifts():
    profile = load_profile()
    night = duty_now(profile, datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # Tuesday
    assert night.out_of_hours and night.shift_hours == "16:00–00:00"
    day = duty_now(profile, datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert not day.out_of_hours and day.shift_hours == "08:00–16:00"
    assert day.handover == "08:00–09:00"
    summer_evening = duty_now(profile, datetime(2026, 7, 14, 16, 30, tzinfo=UTC))  # 17:30 BST
    assert summer_evening.out_of_hours
