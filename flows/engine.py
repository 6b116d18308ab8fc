"""The conversation engine: one inbound Message in, the Replies for it out.

It knows journeys (data), the NLU and storage; it never knows which channel it talks to.
`handle` runs inside the caller's transaction, so the turn, the answers, any contact and the
outbound replies are saved together before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession

from flows import answers as parse
from flows import events, questions
from flows import guidance as guidance_mod
from flows.commands import command_for_words, parse_command
from flows.duty import duty_now
from flows.erasure import erase_conversation
from flows.handover import build_handover, consent_fields
from flows.i18n import N_, Translator, available_languages, translator
from flows.journey import MORE, Journey, Step, lookup
from flows.postcodes import route
from flows.render import base_params, fill, summary_lines
from flows.risk import Assessment, assess
from flows.status import describe, own_requests
from flows.types import Choice, Flag, Kind, Message, Reply
from profiles import Profile
from storage import repo, turn_log
from storage.models import Contact, Conversation
from storage.types import utcnow

log = logging.getLogger("frontdoor.engine")

MAIN_JOURNEY = "self_referral"
CALLBACK = "callback"
NOT_STARTED = ""
DONE = "@done"
YES, NO = "yes", "no"
STRUCTURED = frozenset({"dob_or_age", "number", "postcode", "phone", "email", "upn",
                        "nhs_number", "percent", "date"})


@dataclass
class TurnResult:
    replies: list[Reply] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Turn_:
    """Working state of one turn (a fresh copy of the conversation state)."""

    conv: Conversation
    msg: Message
    state: dict[str, Any]
    t: Translator
    result: TurnResult
    assessment: Assessment | None = None
    lead: list[str] = field(default_factory=list)  # text put before the next question
    meta: dict[str, Any] | None = None  # computed once per turn (answers change: reset)
    asked_at: str = ""  # the position the message answered

    @property
    def answers(self) -> dict[str, Any]:
        return self.state.setdefault("answers", {})

    @property
    def pos(self) -> str:
        return str(self.state.get("pos", NOT_STARTED))


def new_state() -> dict[str, Any]:
    return {"journey": MAIN_JOURNEY, "pos": NOT_STARTED, "answers": {}, "history": [],
            "stack": [], "pending": None}


class Engine:
    def __init__(
        self,
        profile: Profile,
        *,
        analyse: Callable[[str, str | None], Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.profile = profile
        self.journeys = {jid: Journey.from_data(data) for jid, data in profile.journeys.items()}
        if MAIN_JOURNEY not in self.journeys or CALLBACK not in self.journeys:
            raise ValueError("the profile needs the self_referral and callback journeys")
        self.analyse = analyse
        self.clock = clock
        from nlu.thresholds import load_thresholds

        self.thresholds = load_thresholds(profile.directory)
        self.thresholds_disclaimer = " ".join(self.thresholds.disclaimer.split())

    # --- entry point --------------------------------------------------------------------

    async def handle(self, session: AsyncSession, conv: Conversation, msg: Message) -> TurnResult:
        state = _copy_json(conv.state) if conv.state else new_state()
        tr = Turn_(conv, msg, state, translator(conv.language), TurnResult())
        tr.asked_at = tr.pos
        inbound_text = msg.text if msg.kind in (Kind.TEXT, Kind.COMMAND) else msg.choice
        await self._log_turn(session, conv, "in", tr.pos, msg.kind.value, inbound_text[:4000])

        if msg.kind == Kind.TEXT and msg.text.strip() and not self._plain_answer(tr):
            tr.assessment = assess(msg.text, conv.language, self.analyse)
            await self._record_risk(session, tr)

        if self._asking(tr) and questions.is_stale(msg, self._question(tr)):
            self._refuse_stale_press(tr)
        else:
            await self._dispatch(session, tr)
        self._offer_language_switch(tr)
        self._label_questions(tr)

        if tr.result.deleted:
            return tr.result
        conv.state = state
        conv.last_activity_at = self.clock()
        if conv.contact_id and state.get("pos") != DONE:
            await self._refresh_open_contact(session, tr)
        for reply in tr.result.replies:
            await self._log_turn(session, conv, "out", tr.pos, "reply", reply.text)
        return tr.result

    def _question(self, tr: Turn_) -> str:
        """The token of what the person is being asked now (flows/questions.py)."""
        pending = tr.state.get("pending") or {}
        return questions.token(tr.conv.run, str(tr.state.get("journey", MAIN_JOURNEY)), tr.pos,
                               str(pending.get("kind", "")))

    def _label_questions(self, tr: Turn_) -> None:
        """Stamp this turn's buttons with the question asked now. While an offer or a
        confirmation is pending, its prompt is kept, to be asked again after a stale press."""
        question = self._question(tr)
        tr.result.replies = [replace(r, question=question) if r.choices else r
                             for r in tr.result.replies]
        pending = tr.state.get("pending")
        if isinstance(pending, dict) and tr.result.replies:
            pending["prompt"] = tr.result.replies[-1].to_json()

    def _asking(self, tr: Turn_) -> bool:
        """Whether a question or an offer awaits an answer (not before the start or after
        the end, where a press starts or shows something and answers nothing)."""
        return bool(tr.state.get("pending")) or (
            tr.pos not in (NOT_STARTED, DONE) and self.journey(tr).valid(tr.pos))

    def _refuse_stale_press(self, tr: Turn_) -> None:
        """A press on an earlier question's buttons: nothing changes; say so, ask again."""
        notice = tr.t(N_("That button belongs to an earlier question. Here is the question "
                         "we're on now."))
        pending = tr.state.get("pending")
        if not pending:
            tr.lead.append(notice)
            self._ask(tr)
            return
        self._emit(tr, notice)
        if pending.get("prompt"):
            tr.result.replies.append(Reply.from_json(pending["prompt"]))

    async def _dispatch(self, session: AsyncSession, tr: Turn_) -> None:
        command = self._command(tr)
        escalated = tr.assessment is not None and tr.assessment.escalate
        if escalated:
            self._escalation_reply(tr)
        if command:
            await self._run_command(session, tr, *command)
            return
        if tr.state.get("pending"):
            await self._pending(session, tr)
            return
        await self._route(session, tr, escalated)

    async def _route(self, session: AsyncSession, tr: Turn_, escalated: bool) -> None:
        """A message that is not a command or a reply to an offer, wherever the person is
        (not started, mid-journey, paused, or after sending)."""
        msg = tr.msg
        if msg.kind == Kind.UNSUPPORTED:
            tr.lead.append(tr.t(N_(
                "Sorry, I can only read typed messages and buttons here, so I couldn't open "
                "that. Please type your answer instead.")))
            self._ask(tr)
            return
        if msg.kind == Kind.EDITED:
            tr.lead.append(tr.t(N_(
                "I saw you edited an earlier message. I've kept your first answer; to change "
                "it, use /back or change it when you check your answers at the end.")))
            self._ask(tr)
            return
        if tr.pos == NOT_STARTED:
            self._goto(tr, self.main.first, remember=False)
            if escalated:
                self._offer_callback(tr, return_to=self.main.first)
            self._ask(tr)
            return
        if tr.pos == DONE:
            await self._after_done(session, tr)
            return
        if tr.state.get("paused"):
            tr.state["paused"] = False
            tr.lead.append(tr.t(N_("Welcome back. Let's carry on where you stopped.")))
            self._ask(tr)
            return
        await self._answer(session, tr, escalated)

    def _offer_language_switch(self, tr: Turn_) -> None:
        """Someone typing in Polish to an English chat is asked once, in Polish, to switch."""
        detected = tr.assessment.language if tr.assessment else None
        if (
            not detected or detected == tr.conv.language or tr.result.deleted
            or detected not in available_languages() or detected not in self.profile.languages
            or tr.state.get("language_offered") or tr.state.get("pending")
            or len(tr.msg.text.split()) < 4 or not self._in_own_words(tr)
        ):
            return
        tr.state["language_offered"] = True
        tr.state["pending"] = {"kind": "switch", "language": detected}
        theirs = translator(detected)
        self._emit(tr, theirs(N_("Would you like to carry on in {language}?")).format(
            language=_language_name(detected)), [
            Choice(f"lang:{detected}", theirs(N_("Yes, switch to {language}")).format(
                language=_language_name(detected))),
            Choice("lang:keep", theirs(N_("No, keep {language}")).format(
                language=_language_name(tr.conv.language)))], t=theirs)

    def _in_own_words(self, tr: Turn_) -> bool:
        """Narrative free text, a first message, or typing instead of pressing a button.
        (An address or a school name in Latin letters says nothing about a language.)"""
        pos = tr.asked_at
        journey = self.journey(tr)
        if pos in (NOT_STARTED, DONE) or not journey.valid(pos):
            return True
        top, inner, _ = journey.step_at(pos)
        step = inner or top
        if not step.free_input:
            return True
        return bool(step.option("analyse") or step.option("guidance"))

    def _plain_answer(self, tr: Turn_) -> bool:
        """A typed command, button label, date, number, postcode, phone or email: these
        can't describe a danger, so they skip the risk detector (which would only add noise).
        Everything else - free text, names, anything that doesn't fit - is analysed."""
        if self._command(tr) and tr.msg.text.strip().startswith("/"):
            return True
        pos = tr.pos
        journey = self.journey(tr)
        if tr.state.get("pending") or pos in (NOT_STARTED, DONE) or not journey.valid(pos):
            return False
        top, inner, _ = journey.step_at(pos)
        step = inner or top
        try:
            record = self._parse(tr, top, inner)
        except parse.Invalid:
            return False
        return "choice" in record or step.type in STRUCTURED

    # --- journeys and positions -----------------------------------------------------------

    @property
    def main(self) -> Journey:
        return self.journeys[MAIN_JOURNEY]

    def flow(self, tr: Turn_) -> Journey:
        """The run's main journey (self-referral, or professional after the switch)."""
        return self.journeys.get(tr.state.get("flow", MAIN_JOURNEY), self.main)

    def journey(self, tr: Turn_) -> Journey:
        return self.journeys.get(tr.state.get("journey", MAIN_JOURNEY), self.flow(tr))

    def meta(self, tr: Turn_) -> dict[str, Any]:
        if tr.meta is None:
            duty = duty_now(self.profile, self.clock())
            tr.meta = {"language": tr.conv.language, "channel": tr.conv.channel,
                       "out_of_hours": duty.out_of_hours}
            flow = self.flow(tr)
            if flow.options.get("guidance"):
                guidance = self._guidance(tr)
                tr.meta["guidance_level"] = guidance.level or 0
                tr.meta["child_age_known"] = guidance.age is not None
        return tr.meta

    def _guidance(self, tr: Turn_) -> guidance_mod.Guidance:
        return guidance_mod.assess(self.thresholds, self.flow(tr), tr.answers)

    def _goto(self, tr: Turn_, pos: str, *, remember: bool = True) -> None:
        if remember and tr.pos not in (NOT_STARTED, DONE):
            journey_id = tr.state.get("journey", MAIN_JOURNEY)
            tr.state.setdefault("history", []).append(f"{journey_id}::{tr.pos}")
        tr.state["pos"] = pos
        tr.meta = None

    def _back_to(self, tr: Turn_, entry: str) -> None:
        journey_id, _, pos = entry.rpartition("::")
        if journey_id:
            tr.state["journey"] = journey_id
            if journey_id != CALLBACK:
                tr.state["flow"] = journey_id
        tr.state["pos"] = pos
        tr.meta = None

    def _params(self, tr: Turn_, item: dict[str, Any] | None = None) -> dict[str, Any]:
        params = base_params(self.profile, tr.t)
        duty = duty_now(self.profile, self.clock())
        params.update(shift_hours=duty.shift_hours, handover=duty.handover,
                      local_time=duty.local_time)
        answers = tr.answers
        name_record = ((item or {}).get("name") or answers.get("your_name")
                       or answers.get("prof_name"))
        if isinstance(name_record, dict):
            params["name"] = name_record.get("text", "")
        age = lookup(answers, {}, "yp_age")
        if isinstance(age, int):
            params["yp_age"] = age
        route_value = lookup(answers, {}, "postcode")
        if not isinstance(route_value, dict):
            route_value = lookup(answers, {}, "prof_postcode")
        if isinstance(route_value, dict) and route_value.get("council"):
            other = self.profile.council(route_value["council"])
            params["other_council"] = tr.t(other.name)
            params["other_website"] = other.website
        return params

    # --- asking ---------------------------------------------------------------------------

    def _ask(self, tr: Turn_) -> None:
        """Reply with the question at the current position (plus any lead text)."""
        journey = self.journey(tr)
        pos = tr.pos
        if pos in (NOT_STARTED, DONE) or not journey.valid(pos):
            if pos not in (NOT_STARTED, DONE):
                log.error("invalid position in journey %s; restarting the step", journey.id)
                tr.state["pos"] = journey.first
                return self._ask(tr)
            self._emit(tr, "\n\n".join(tr.lead) if tr.lead else tr.t(N_(
                "Type /start to begin a new request, or /status to check one you sent.")),
                [Choice("cmd:start", tr.t(N_("Start a new request"))),
                 Choice("cmd:status", tr.t(N_("Check my request")))])
            return
        top, inner, index = journey.step_at(pos)
        meta = self.meta(tr)
        if top.type == "loop":
            items = tr.answers.get(top.id) or []
            item = items[index] if index < len(items) else {}
            params = self._params(tr, item)
            if inner is None:  # "add another?"
                text = tr.t(top.more)
                choices = [Choice(YES, tr.t(N_("Yes"))), Choice(NO, tr.t(N_("No")))]
                free = False
            else:
                template = inner.prompt_next if index > 0 and inner.prompt_next else inner.prompt
                text = fill(tr.t(template), params)
                if index == 0 and inner is top.steps[0] and top.intro:
                    text = tr.t(top.intro) + "\n\n" + text
                choices = [Choice(c.id, fill(tr.t(c.label), params)) for c in inner.choices]
                free = inner.free_input
        elif top.type == "guidance":
            guidance = self._guidance(tr)
            what_now = {int(k): str(v) for k, v in (top.option("what_now") or {}).items()}
            text = fill(guidance_mod.render(guidance, tr.t, what_now,
                                            self.thresholds_disclaimer), self._params(tr))
            text = fill(tr.t(top.prompt), self._params(tr)) + "\n\n" + text if top.prompt else text
            choices = [Choice(c.id, fill(tr.t(c.label), self._params(tr)))
                       for c in journey.choices(top, tr.answers, meta)]
            free = False
        elif top.type == "summary":
            lines = summary_lines(self.flow(tr), tr.answers, meta, tr.t)
            text = tr.t(journey.prompt(top, tr.answers, meta)) + "\n\n" + "\n".join(lines)
            choices = [Choice("submit", tr.t(N_("Send to the hub"))),
                       Choice("change", tr.t(N_("Change an answer")))]
            free = False
        else:
            params = self._params(tr)
            text = fill(tr.t(journey.prompt(top, tr.answers, meta)), params)
            choices = [Choice(c.id, fill(tr.t(c.label), params))
                       for c in journey.choices(top, tr.answers, meta)]
            free = top.free_input
        if tr.lead:
            text = "\n\n".join([*tr.lead, text]) if text else "\n\n".join(tr.lead)
            tr.lead = []
        flags = {Flag.FREE_TEXT} if free else set()
        if top.type == "end":
            flags.add(Flag.ENDED)
        if pos == self.main.first and tr.state.get("journey", MAIN_JOURNEY) == MAIN_JOURNEY:
            choices.append(Choice("cmd:language", tr.t(N_("Language: {language}")).format(
                language=_language_name(tr.t.language))))
        self._emit(tr, text, choices, flags)

    def _emit(
        self, tr: Turn_, text: str, choices: list[Choice] | None = None,
        flags: set[Flag] | None = None, *, t: Translator | None = None,
    ) -> None:
        """`t`: the language the text is in, when it isn't the conversation's."""
        t = t or tr.t
        tr.result.replies.append(Reply(
            text=text, choices=tuple(choices or ()), flags=frozenset(flags or ()),
            language=t.language, rtl=t.rtl,
        ))

    # --- answering --------------------------------------------------------------------------

    async def _answer(self, session: AsyncSession, tr: Turn_, escalated: bool) -> None:
        journey = self.journey(tr)
        top, inner, index = journey.step_at(tr.pos)
        step = inner or top
        try:
            record = self._parse(tr, top, inner)
        except parse.Invalid as problem:
            if escalated and not tr.state.get("callback_offered"):
                self._offer_callback(tr, return_to=tr.pos)
            elif not escalated:
                tr.lead.append(fill(tr.t(problem.message), problem.params))
            self._ask(tr)
            return
        if top.type == "summary":
            await self._summary_choice(session, tr, str(record["choice"]))
            return
        if top.type == "end":
            if record.get("choice") == "restart":
                self._restart(tr)
            self._ask(tr)
            return
        if top.type == "guidance" and "choice" in record:
            chosen = next((c for c in top.choices if c.id == record["choice"]), None)
            for cleared in (chosen.data.get("clear", []) if chosen else []):
                tr.answers.pop(cleared, None)
        if step.option("guidance") and "text" in record and tr.assessment is not None:
            data = tr.assessment.analysis
            record["nlu"] = {key: data.get(key, []) for key in ("indicators", "evidence",
                                                               "entities")}
        if top.type == "loop":
            self._store_loop(tr, top, inner, index, record)
        else:
            tr.answers[step.id] = record
        nxt = self._next_position(tr, journey, top, inner, index, record)
        await self._move(session, tr, journey, nxt, escalated)

    def _parse(self, tr: Turn_, top: Step, inner: Step | None) -> dict[str, Any]:
        """The stored record for this message at this step, or Invalid."""
        msg = tr.msg
        journey = self.journey(tr)
        meta = self.meta(tr)
        if top.type == "loop" and inner is None:
            step_choices = [YES, NO]
            labels = {YES: tr.t(N_("Yes")), NO: tr.t(N_("No"))}
        else:
            step = inner or top
            visible = journey.choices(step, tr.answers, meta) if inner is None else step.choices
            if top.type == "summary":
                step_choices = ["submit", "change"]
                labels = {"submit": tr.t(N_("Send to the hub")),
                          "change": tr.t(N_("Change an answer"))}
            else:
                step_choices = [c.id for c in visible]
                labels = {c.id: fill(tr.t(c.label), self._params(tr)) for c in visible}
        if msg.kind == Kind.CHOICE:
            if msg.choice in step_choices:
                return {"choice": msg.choice}
            raise parse.Invalid(N_("That button belongs to an earlier question. Here is the "
                                   "question we're on now."))
        text = parse.clean_text(msg.text)
        typed = _match_choice(text, step_choices, labels, tr.t)
        if typed is not None:
            return {"choice": typed}
        step = inner or top
        if not step.free_input:
            raise parse.Invalid(N_("Please choose one of the options below."))
        return self._parse_free(step, text)

    def _parse_free(self, step: Step, text: str) -> dict[str, Any]:
        kind = step.type
        if not parse.has_words(text):
            raise parse.Invalid(N_("Please type your answer in words."))
        if len(text) > parse.MAX_TEXT:
            parse.parse_text(text)  # raises the kind "too long" message
        if kind == "text":
            value = parse.parse_text(
                text, min_length=int(step.option("min_length", 2)),
                max_length=int(step.option("max_length", parse.MAX_TEXT)),
            )
            return {"text": value}
        if kind == "name":
            return {"text": parse.parse_name(text)}
        if kind == "dob_or_age":
            today = self.clock().date()
            found = parse.parse_dob_or_age(text, today=today,
                                           max_age=int(step.option("max_age", 25)))
            return {"text": text[:100], "value": found.to_json()}
        if kind == "number":
            n = parse.parse_number(text, minimum=int(step.option("min", 0)),
                                   maximum=int(step.option("max", 120)))
            return {"text": text[:20], "value": n}
        if kind == "postcode":
            postcode = parse.parse_postcode(text)
            return {"text": postcode, "value": route(self.profile, postcode).to_json()}
        if kind == "phone":
            return {"text": text[:40], "value": parse.parse_phone(text)}
        if kind == "email":
            return {"text": text[:254], "value": parse.parse_email(text)}
        if kind == "upn":
            return {"text": text[:20], "value": parse.parse_upn(text)}
        if kind == "nhs_number":
            return {"text": text[:20], "value": parse.parse_nhs_number(text)}
        if kind == "percent":
            return {"text": text[:10], "value": parse.parse_percent(text)}
        if kind == "date":
            day = parse.parse_past_date(text, today=self.clock().date())
            return {"text": text[:40], "value": day.isoformat()}
        raise parse.Invalid(N_("Please choose one of the options below."))

    def _store_loop(
        self, tr: Turn_, top: Step, inner: Step | None, index: int, record: dict[str, Any]
    ) -> None:
        if inner is None:
            return
        items: list[dict[str, Any]] = tr.answers.setdefault(top.id, [])
        if record.get("choice") == "unborn" and inner.type == "dob_or_age":
            record = {"choice": "unborn", "value": {"dob": None, "age": None, "unborn": True}}
        while len(items) <= index:
            items.append({})
        items[index][inner.id] = record

    def _next_position(
        self, tr: Turn_, journey: Journey, top: Step, inner: Step | None, index: int,
        record: dict[str, Any],
    ) -> str | None:
        meta = self.meta(tr)
        if top.type == "loop":
            if inner is not None:
                ids = [s.id for s in top.steps]
                at = ids.index(inner.id)
                if at + 1 < len(ids):
                    return f"{top.id}/{index}/{ids[at + 1]}"
                return f"{top.id}/{index}/{MORE}"
            if record.get("choice") == YES and index + 1 < int(top.option("max", 10)):
                return f"{top.id}/{index + 1}/{top.steps[0].id}"
            return journey.after(top.id, tr.answers, meta)
        return journey.after(top.id, tr.answers, meta)

    async def _move(
        self, session: AsyncSession, tr: Turn_, journey: Journey, nxt: str | None,
        escalated: bool,
    ) -> None:
        tr.meta = None  # answers changed: conditions are worked out again
        meta = self.meta(tr)
        terminal = ("summary", "submit", "end", "return", "switch")
        while nxt is not None and "/" not in nxt and journey.by_id[nxt].type not in terminal:
            step = journey.by_id[nxt]
            record = tr.answers.get(nxt)
            answered = record is not None and tr.state.get("changing")
            if isinstance(record, dict) and record.get("skipped"):
                answered = True  # skipped when it first came up
            elif not answered and journey.skipped(step, tr.answers, meta):
                tr.answers[nxt] = {"skipped": True}
            elif not answered:
                break
            # Changing an answer from the summary skips what is already answered; a step
            # whose `skip_if` holds is never asked.
            nxt = journey.after(nxt, tr.answers, meta)
        if nxt is None:
            nxt = journey.steps[-1].id
        step = journey.by_id[nxt.split("/", 1)[0]]
        if step.type == "return":
            await self._return(session, tr, step, escalated)
            return
        if step.type == "switch":
            target_journey = self.journeys[str(step.option("journey"))]
            here = f"{tr.state.get('journey', MAIN_JOURNEY)}::{tr.pos}"
            tr.state.setdefault("history", []).append(here)  # /back returns across the switch
            tr.state["flow"] = tr.state["journey"] = target_journey.id
            tr.state["pos"] = NOT_STARTED
            tr.meta = None
            await self._move(session, tr, target_journey, target_journey.first, escalated)
            return
        if step.type == "summary":
            tr.state["changing"] = False
        target = journey.entry(nxt, tr.answers) if "/" not in nxt else nxt
        self._goto(tr, target)
        if escalated and not tr.state.get("callback_offered"):
            self._offer_callback(tr, return_to=target)
        self._ask(tr)

    # --- callback sub-journey ------------------------------------------------------------

    def _offer_callback(self, tr: Turn_, *, return_to: str) -> None:
        tr.state["callback_offered"] = True
        tr.state.setdefault("stack", []).append(
            {"journey": tr.state.get("journey", MAIN_JOURNEY), "pos": return_to,
             "history": list(tr.state.get("history", []))}
        )
        tr.state["journey"] = CALLBACK
        tr.state["pos"] = self.journeys[CALLBACK].first

    async def _return(self, session: AsyncSession, tr: Turn_, step: Step, escalated: bool) -> None:
        if step.prompt:
            tr.lead.append(tr.t(step.prompt))
        if lookup(tr.answers, {}, "callback_phone") not in (None, "no_phone"):
            await self._ensure_contact(session, tr)
            tr.result.events.append((events.CONTACT_CHANGED, {"contact_id": tr.conv.contact_id}))
        frame = tr.state["stack"].pop() if tr.state.get("stack") else None
        tr.state["journey"] = frame["journey"] if frame else MAIN_JOURNEY
        tr.state["pos"] = frame["pos"] if frame else self.flow(tr).first
        tr.state["history"] = frame["history"] if frame else []
        self._ask(tr)

    # --- risk ----------------------------------------------------------------------------

    def _escalation_reply(self, tr: Turn_) -> None:
        """Before anything else in the same reply: who to call, now."""
        assert tr.assessment is not None
        params = base_params(self.profile, tr.t)
        if tr.assessment.risk == "immediate":
            text = tr.t(N_(
                "If a child is in danger right now, call {emergency} now.\n\nThen call the "
                "{hub_name} on {hub_phone}. They are there 24 hours a day, every day."))
            flag = Flag.EMERGENCY
        else:
            text = tr.t(N_(
                "What you've told me sounds serious. Please phone the {hub_name} now on "
                "{hub_phone}. They are there 24 hours a day and can act today.\n\nIf a child "
                "is in danger right now, call {emergency}."))
            flag = Flag.URGENT
        text = fill(text, params) + "\n\n" + tr.t(N_(
            "I've also flagged this to the duty team now."))
        tr.result.replies.append(Reply(text=text, flags=frozenset({flag}),
                                       language=tr.t.language, rtl=tr.t.rtl))

    async def _record_risk(self, session: AsyncSession, tr: Turn_) -> None:
        assessment = tr.assessment
        assert assessment is not None
        risk_log: list[dict[str, Any]] = tr.state.setdefault("risk", [])
        if assessment.risk != "none":
            # The person's own words go with the flag: an officer must not have to guess.
            risk_log.append({"risk": assessment.risk, "message": tr.msg.text[:2000],
                             "evidence": assessment.evidence,
                             "at": self.clock().isoformat(), "step": tr.pos})
            del risk_log[:-20]
        if not assessment.escalate:
            return
        contact = await self._ensure_contact(session, tr)
        raised = await repo.set_urgency(session, contact, assessment.risk)
        contact.risk_evidence = [*contact.risk_evidence, *assessment.evidence][-50:]
        if raised:
            await repo.audit(session, "system", "risk_flagged", contact_id=contact.id,
                             detail={"urgency": assessment.risk})
            tr.result.events.append((events.CONTACT_RED, {
                "contact_id": contact.id, "reference": contact.reference,
                "urgency": contact.urgency, "locality": contact.locality,
                "language": contact.language,
            }))

    async def _ensure_contact(self, session: AsyncSession, tr: Turn_) -> Contact:
        """The contact for this run, created now if needed (a red contact can't wait)."""
        conv = tr.conv
        if conv.contact_id:
            existing = await session.get(Contact, conv.contact_id)
            if existing is not None:
                return existing
        contact = await repo.create_contact(
            session, prefix=self.profile.reference_prefix, conversation_id=conv.id,
            run=conv.run, source=str(lookup(tr.answers, {}, "who") or "unknown"),
            journey=self.flow(tr).id, channel=conv.channel, chat=conv.chat,
            language=conv.language, handover=self._handover(tr),
        )
        conv.contact_id = contact.id
        await repo.audit(session, "system", "contact_created", contact_id=contact.id,
                         detail={"complete": False})
        return contact

    def _handover(self, tr: Turn_) -> dict[str, Any]:
        risk = tr.state.get("risk", [])
        worst = max((r["risk"] for r in risk), key=_RISK_ORDER.index, default="none")
        flow = self.flow(tr)
        guidance = self._guidance(tr).to_json() if flow.options.get("guidance") else None
        return build_handover(
            self.profile, flow, tr.answers, self.meta(tr),
            risk={"level": worst, "events": risk}, guidance=guidance,
        )

    @staticmethod
    def _keep_triage(contact: Contact, handover: dict[str, Any]) -> dict[str, Any]:
        """The officers' `triage` block is theirs: a rebuilt handover carries it over."""
        block = (contact.handover or {}).get("triage")
        return {**handover, "triage": block} if block else handover

    async def _refresh_open_contact(self, session: AsyncSession, tr: Turn_) -> None:
        contact = await session.get(Contact, tr.conv.contact_id)
        if contact is None or contact.complete:
            return
        contact.handover = self._keep_triage(contact, self._handover(tr))
        contact.source = str(lookup(tr.answers, {}, "who") or contact.source)
        contact.locality = contact.handover["address"]["locality"]
        contact.language = tr.conv.language

    # --- summary and submit -----------------------------------------------------------

    async def _summary_choice(self, session: AsyncSession, tr: Turn_, choice: str) -> None:
        if choice == "submit":
            await self._submit(session, tr)
            return
        tr.state["pending"] = {"kind": "change"}
        options = []
        flow = self.flow(tr)
        for step_id in flow.path(tr.answers, self.meta(tr)):
            step = flow.by_id[step_id]
            if step.summary and step_id in tr.answers:
                options.append(Choice(f"change:{step_id}", tr.t(step.summary)))
        options.append(Choice("change:", tr.t(N_("Nothing, go back to my answers"))))
        self._emit(tr, tr.t(N_("Which answer would you like to change?")), options)

    async def _submit(self, session: AsyncSession, tr: Turn_) -> None:
        conv = tr.conv
        contact = await self._ensure_contact(session, tr)
        handover = self._keep_triage(contact, self._handover(tr))
        contact.handover = handover
        contact.complete = True
        contact.submitted_at = self.clock()
        contact.source = str(handover["source"])
        contact.locality = handover["address"]["locality"]
        contact.language = conv.language
        contact.interpreter_needed = lookup(tr.answers, {}, "interpreter") == YES
        flow = self.flow(tr)
        contact.journey = flow.id
        await repo.add_consent(session, contact, **consent_fields(
            self.profile, tr.answers, self.meta(tr), flow.options.get("consent")))
        await repo.audit(session, "system", "contact_submitted", contact_id=contact.id)
        tr.state["done"] = {"reference": contact.reference}
        tr.state["pos"] = DONE
        tr.state["history"] = []
        params = {**self._params(tr), "reference": contact.reference}
        source_step = flow.options.get("source_from")
        if source_step and source_step in flow.by_id:
            chosen = lookup(tr.answers, {}, source_step)
            choice = next((c for c in flow.by_id[source_step].choices if c.id == chosen), None)
            contact.source = str(choice.data.get("source", chosen)) if choice else contact.source
        submit_step = next((s for s in flow.steps if s.type == "submit"), None)
        template = submit_step.prompt if submit_step and submit_step.prompt else N_(
            "Thank you{comma_name}. Your request has been sent to the {hub_name}.\n\n"
            "Your reference is {reference}. Please keep it.\n\n"
            "What happens next: a qualified social worker will read what you've told us and "
            "decide with you what help fits best. The hub aims to decide within one working "
            "day, and will contact you in the way you said is safe.\n\n"
            "You can check your request here at any time by typing /status.\n\n"
            "If things get worse, or a child is in danger, call {emergency}. You can phone "
            "the hub 24 hours a day on {hub_phone}.")
        text = fill(tr.t(template),
            {**params, "comma_name": (", " + params["name"]) if params.get("name") else ""})
        self._emit(tr, text, [Choice("cmd:status", tr.t(N_("Check my request")))],
                   {Flag.SUBMITTED})
        tr.result.events.append((events.CONTACT_CHANGED, {"contact_id": contact.id}))

    async def _after_done(self, session: AsyncSession, tr: Turn_) -> None:
        reference = (tr.state.get("done") or {}).get("reference", "")
        text = fill(tr.t(N_(
            "Your request {reference} is with the hub. Type /status to see what is happening "
            "with it, or /start to ask for help with something new. If a child is in danger, "
            "call {emergency}, or phone the hub on {hub_phone}.")),
            {**base_params(self.profile, tr.t), "reference": reference})
        self._emit(tr, "\n\n".join([*tr.lead, text]), [
            Choice("cmd:status", tr.t(N_("Check my request"))),
            Choice("cmd:start", tr.t(N_("Start a new request")))])
        tr.lead = []

    # --- commands and confirmations ---------------------------------------------------

    def _command(self, tr: Turn_) -> tuple[str, str] | None:
        msg = tr.msg
        if msg.kind == Kind.COMMAND:
            return (msg.command, msg.text)
        if msg.kind == Kind.CHOICE and msg.choice.startswith("cmd:"):
            return (msg.choice[4:], "")
        if msg.kind == Kind.TEXT:
            parsed = parse_command(msg.text.strip())
            if parsed:
                return parsed
            if msg.text.strip().startswith("/") and " " not in msg.text.strip():
                return ("unknown", "")
            word = command_for_words(msg.text, tr.t)
            if word:
                return (word, "")
        return None

    async def _run_command(self, session: AsyncSession, tr: Turn_, name: str, arg: str) -> None:
        t = tr.t
        params = base_params(self.profile, t)
        if name == "start":
            if tr.pos in (NOT_STARTED, DONE):
                if tr.pos == DONE:
                    self._new_run(tr)
                self._goto(tr, self.main.first, remember=False)
                self._ask(tr)
            else:
                tr.state["paused"] = False
                tr.state["pending"] = {"kind": "resume"}
                self._emit(tr, t(N_("Welcome back. Your answers are saved. Would you like to "
                                    "carry on where you stopped, or start again?")),
                           [Choice("resume", t(N_("Carry on"))),
                            Choice("restart", t(N_("Start again")))])
        elif name == "restart":
            if tr.answers:
                tr.state["pending"] = {"kind": "restart"}
                self._emit(tr, t(N_("Start again from the beginning? The answers you've given "
                                    "so far will be cleared.")),
                           [Choice(YES, t(N_("Yes, start again"))), Choice(NO, t(N_("No")))])
            else:
                self._restart(tr)
                self._ask(tr)
        elif name == "back":
            history = tr.state.get("history") or []
            if tr.pos == DONE:
                self._after_done_text(tr)
            elif tr.state.get("pending"):
                tr.state["pending"] = None
                self._ask(tr)
            elif history:
                self._back_to(tr, history.pop())
                self._ask(tr)
            else:
                tr.lead.append(t(N_("This is the first question, so there's nothing to go "
                                    "back to.")))
                self._ask(tr)
        elif name == "help":
            tr.lead.append(fill(t(N_(
                "Here's what you can do at any time:\n"
                "/back – go back one question\n"
                "/restart – start again\n"
                "/human – talk to a person\n"
                "/language – change language\n"
                "/status – check a request you sent\n"
                "/stop – pause and come back within {draft_days} days\n"
                "/delete – delete your information\n\n"
                "If a child is in danger now, call {emergency}. The hub is there 24 hours a day "
                "on {hub_phone}.")), params))
            self._ask_or_lead(tr)
        elif name == "human":
            tr.lead.append(fill(t(N_(
                "You can talk to a person at the {hub_name} at any time on {hub_phone}, "
                "24 hours a day.")), params))
            if tr.state.get("journey") != CALLBACK:
                return_to = tr.pos if tr.pos not in (NOT_STARTED, DONE) else self.main.first
                if tr.pos == DONE:
                    self._new_run(tr)
                self._offer_callback(tr, return_to=return_to)
            self._ask(tr)
        elif name == "stop":
            tr.state["paused"] = True
            self._emit(tr, fill(t(N_(
                "OK, we'll stop here. Your answers are saved for {draft_days} days. Send any "
                "message to carry on. To delete them now, type /delete.\n\nIf a child is in "
                "danger, call {emergency}.")), params))
        elif name == "delete":
            tr.state["pending"] = {"kind": "delete"}
            self._emit(tr, t(N_(
                "This will delete your answers and this conversation from our system. If you "
                "have already sent a request, we'll tell the hub you've withdrawn your "
                "agreement. Delete now?")),
                [Choice(YES, t(N_("Yes, delete"))), Choice(NO, t(N_("No, keep it")))])
        elif name == "language":
            tr.state["pending"] = {"kind": "language"}
            langs = [lang for lang in self.profile.languages if lang in available_languages()]
            self._emit(tr, t(N_("Which language would you like to use?")),
                       [Choice(f"lang:{lang}", _language_name(lang)) for lang in langs])
        elif name == "status":
            await self._status(session, tr, arg)
        elif name == "disagree":
            tr.lead.append(fill(t(" ".join(str(self.profile.raw["escalation"]).split())), params))
            self._ask_or_lead(tr)
        else:
            tr.lead.append(t(N_("I don't know that command. Type /help to see what you can "
                                "do.")))
            self._ask_or_lead(tr)

    def _ask_or_lead(self, tr: Turn_) -> None:
        if tr.pos in (NOT_STARTED, DONE):
            self._emit(tr, "\n\n".join(tr.lead))
            tr.lead = []
        else:
            self._ask(tr)

    def _after_done_text(self, tr: Turn_) -> None:
        tr.lead.append(tr.t(N_("Your request has already been sent.")))
        self._emit(tr, "\n\n".join(tr.lead))
        tr.lead = []

    async def _pending(self, session: AsyncSession, tr: Turn_) -> None:
        pending = tr.state.get("pending") or {}
        kind = pending.get("kind")
        choice = tr.msg.choice if tr.msg.kind == Kind.CHOICE else ""
        if not choice and tr.msg.kind == Kind.TEXT:
            ids, labels = ([YES, NO], {YES: tr.t(N_("Yes")), NO: tr.t(N_("No"))})
            if kind == "resume":
                ids, labels = (["resume", "restart"], {"resume": tr.t(N_("Carry on")),
                                                       "restart": tr.t(N_("Start again"))})
            choice = _match_choice(parse.clean_text(tr.msg.text), ids, labels, tr.t) or ""
            if not choice and kind == "resume":
                tr.state["pending"] = None
                await self._route(session, tr, escalated=bool(
                    tr.assessment and tr.assessment.escalate))
                return
        if kind == "switch" and not choice.startswith("lang:"):
            # They answered the question instead of the offer: that's their answer (or,
            # after sending, a new message; a sticker gets the usual kind re-ask).
            tr.state["pending"] = None
            await self._route(session, tr, escalated=bool(
                tr.assessment and tr.assessment.escalate))
            return
        tr.state["pending"] = None
        if kind == "delete":
            if choice == YES:
                await self._delete(session, tr)
                return
            tr.lead.append(tr.t(N_("OK, nothing has been deleted.")))
        elif kind == "restart":
            if choice == YES:
                self._restart(tr)
        elif kind == "resume":
            if choice == "restart":
                self._restart(tr)
        elif kind in ("language", "switch"):
            lang = choice[5:] if choice.startswith("lang:") else ""
            if lang in available_languages():
                tr.conv.language = lang
                tr.t = translator(lang)
                tr.lead.append(tr.t(N_("OK, I'll use {language} from now on.")).format(
                    language=_language_name(lang)))
        elif kind == "change":
            target = choice[7:] if choice.startswith("change:") else ""
            flow = self.flow(tr)
            if target in flow.by_id:
                step = flow.by_id[target]
                if step.type == "loop":
                    tr.answers[target] = []
                tr.state["changing"] = True
                tr.state["journey"] = flow.id
                self._goto(tr, flow.entry(target, tr.answers))
        if tr.pos == DONE and kind != "delete":
            self._after_done_text(tr)
            return
        self._ask(tr) if tr.pos != NOT_STARTED else self._start_fresh(tr)

    def _start_fresh(self, tr: Turn_) -> None:
        self._goto(tr, self.main.first, remember=False)
        self._ask(tr)

    def _restart(self, tr: Turn_) -> None:
        self._new_run(tr)
        tr.state["pos"] = self.main.first

    def _new_run(self, tr: Turn_) -> None:
        language = tr.conv.language
        tr.state.clear()
        tr.state.update(new_state())
        tr.conv.run += 1
        tr.conv.contact_id = None
        tr.conv.language = language

    async def _delete(self, session: AsyncSession, tr: Turn_) -> None:
        """Erase the conversation; withdraw consent on any contact it created."""
        withdrawn = await erase_conversation(session, tr.conv, self.clock())
        tr.result.events += [(events.CONTACT_CHANGED, {"contact_id": cid}) for cid in withdrawn]
        tr.result.deleted = True
        text = tr.t(N_("Done. Your answers and this conversation have been deleted."))
        if withdrawn:
            text += "\n\n" + tr.t(N_(
                "We've told the hub you have withdrawn your agreement. If they need to keep "
                "some information to keep a child safe, they will explain why."))
        self._emit(tr, text, [Choice("cmd:start", tr.t(N_("Start a new request")))],
                   {Flag.ENDED})

    async def _status(self, session: AsyncSession, tr: Turn_, reference: str) -> None:
        contacts = await own_requests(session, tr.conv, self.profile, self.clock(), reference)
        if not contacts:
            tr.lead.append(tr.t(N_("I can't find a request sent from this chat in the last "
                                   "{days} days.")).format(
                days=self.profile.status_visible_days))
        tr.lead += [describe(self.profile, tr.t, contact) for contact in contacts]
        self._ask_or_lead(tr)

    async def _log_turn(
        self, session: AsyncSession, conv: Conversation, direction: str, step: str, kind: str,
        text: str,
    ) -> None:
        if conv.id is None:
            await session.flush()
        turn_log.add(session, conversation_id=conv.id, run=conv.run, direction=direction,
                     step=step[:60] or None, kind=kind, text=text)


_RISK_ORDER = ["none", "concern", "urgent", "immediate"]


def _match_choice(
    text: str, ids: list[str], labels: dict[str, str], t: Translator
) -> str | None:
    """A typed answer to a button question: its label, its number, or yes/no words."""
    said = text.strip().lower().rstrip(".!")
    if not said:
        return None
    for choice_id in ids:
        if said in (labels.get(choice_id, "").lower(), choice_id.lower()):
            return choice_id
    if said.isdigit() and 1 <= int(said) <= len(ids) and len(ids) > 1:
        return ids[int(said) - 1]
    yes_words = {"yes", "y", "yeah", "yep", "ok", "okay", t.gettext("Yes").lower()}
    no_words = {"no", "n", "nope", "nah", t.gettext("No").lower()}
    if said in yes_words and YES in ids:
        return YES
    if said in no_words and NO in ids:
        return NO
    return None


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): the state is copied every turn so
    the ORM sees the new one as a change, and `copy.deepcopy` was a tenth of a turn's cost."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _language_name(code: str) -> str:
    try:
        return str(Locale.parse(code).get_display_name(code)).capitalize()
    except (ValueError, LookupError):
        return code
