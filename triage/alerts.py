"""Duty alerts for red contacts: a Telegram message to the duty chat within a second.

The alert carries the reference, urgency, locality and language only — never a name, an
address or what was said — because a duty chat is read on phones, in public, by several
people. A sweeper re-sends any red contact whose alert was lost (say, a crash between the
engine's commit and the signal); the database, not the signal, is the truth. Every worker
runs a sweeper; a lock per contact makes the check and the alert one step, so each red contact
(and each rise in its urgency) alerts the duty chat once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, select

from bot.settings import Settings
from flows.events import CONTACT_RED, OUTBOX, EventBus
from flows.types import Reply
from profiles import Profile
from storage.db import Database
from storage.models import AuditEvent, Contact
from storage.repo import LOCK_ALERT, audit, enqueue_reply, xact_lock
from storage.types import utcnow
from triage.handover_view import language_name
from triage.sse import RED_SWEPT

log = logging.getLogger("frontdoor.triage.alerts")

ALERT_CHANNEL = "telegram"
SWEEP_SECONDS = 30.0
SWEEP_GRACE = timedelta(seconds=15)  # leave the engine's own signal time to arrive
SWEEP_LOOKBACK = timedelta(hours=24)
URGENCY_WORDS = {
    "immediate": "immediate — danger now",
    "urgent": "urgent — likely child-protection concern",
}


def alert_text(profile: Profile, reference: str, urgency: str, locality: str | None,
               language: str | None) -> str:
    place = profile.locality(locality) if locality else None
    return "\n".join(
        [
            f"RED contact {reference}",
            f"Urgency: {URGENCY_WORDS.get(urgency, urgency)}",
            f"Locality: {place.name if place else 'not known yet'}",
            f"Language: {language_name(language) if language else 'not known yet'}",
            "Open the triage console and take next.",
        ]
    )


class Alerts:
    """Subscribed to CONTACT_RED; writes the alert to the outbox and wakes the sender."""

    def __init__(self, db: Database, profile: Profile, bus: EventBus, settings: Settings,
                 *, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.db = db
        self.profile = profile
        self.bus = bus
        self.settings = settings
        self.sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._warned = False

    async def on_red(self, event: dict[str, Any]) -> None:
        await self.alert(
            contact_id=int(event["contact_id"]),
            reference=str(event.get("reference", "")),
            urgency=str(event.get("urgency", "")),
            locality=event.get("locality"),
            language=event.get("language"),
        )

    async def alert(self, *, contact_id: int, reference: str, urgency: str,
                    locality: str | None, language: str | None) -> bool:
        """Alert once per contact and urgency; False when another worker (or a repeated
        signal) already did. A rise from urgent to immediate alerts again."""
        chat = self.settings.alert_chat_id
        async with self.db.transaction() as session:
            await xact_lock(session, LOCK_ALERT, contact_id)  # workers check-and-write in turn
            earlier = (await session.scalars(select(AuditEvent.detail).where(
                AuditEvent.contact_id == contact_id, AuditEvent.action == "alert"))).all()
            if any(d.get("urgency") == urgency for d in earlier):
                return False
            detail: dict[str, Any] = {"urgency": urgency}
            if chat:
                item = await enqueue_reply(
                    session, ALERT_CHANNEL, chat,
                    Reply(text=alert_text(self.profile, reference, urgency, locality,
                                          language)),
                )
                detail["outbox_id"] = item.id
            else:
                detail["telegram"] = "ALERT_CHAT_ID is not set"
            await audit(session, "system", "alert", contact_id=contact_id, detail=detail)
        if chat:
            self.bus.emit(OUTBOX, {"channel": ALERT_CHANNEL})
        elif not self._warned:
            self._warned = True
            log.warning("ALERT_CHAT_ID is not set: red contacts alert the console only")
        return True

    async def sweep_once(self) -> int:
        """Alert every recent, unclaimed red contact that has no alert yet."""
        now = utcnow()
        alerted = exists().where(
            and_(AuditEvent.contact_id == Contact.id, AuditEvent.action == "alert")
        )
        stmt = select(Contact).where(
            Contact.urgency_rank <= 1,
            Contact.status == "new",
            Contact.created_at > now - SWEEP_LOOKBACK,
            Contact.created_at < now - SWEEP_GRACE,
            ~alerted,
        )
        async with self.db.transaction() as session:
            missed = list((await session.scalars(stmt)).all())
        swept = 0
        for contact in missed:
            if not await self.alert(contact_id=contact.id, reference=contact.reference,
                                    urgency=contact.urgency, locality=contact.locality,
                                    language=contact.language):
                continue  # another worker's sweeper got there first
            swept += 1
            self.bus.emit(RED_SWEPT, {"contact_id": contact.id, "reference": contact.reference,
                                      "urgency": contact.urgency, "locality": contact.locality,
                                      "language": contact.language})
        if swept:
            log.warning("alert sweeper re-sent %d missed red alert(s)", swept)
        return swept

    def start_sweeper(self) -> None:
        if self._sweeper is None and self.sweep_seconds > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep_once()
            except Exception:  # the sweeper must outlive a database hiccup
                log.exception("alert sweep failed")

    async def stop(self) -> None:
        self.bus.unsubscribe(CONTACT_RED, self.on_red)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None


def start(db: Database, profile: Profile, bus: EventBus, settings: Settings,
          *, sweep_seconds: float = SWEEP_SECONDS) -> Alerts:
    """Subscribe to CONTACT_RED; also start the sweeper when called inside the event loop."""
    alerts = Alerts(db, profile, bus, settings, sweep_seconds=sweep_seconds)
    bus.subscribe(CONTACT_RED, alerts.on_red)
    with contextlib.suppress(RuntimeError):
        alerts.start_sweeper()
    return alerts
