"""Who may start a turn: the per-conversation rate limit and officers' blocks.

The limits are the profile's (`rate_limits`), counted from the chat's own inbox rows, so
every worker on one database sees the same figure. A refused message is not stored or
processed; the person is told once per window, always with the emergency numbers.

Safety first: a refused typed message is still run through the risk detector, and one rated
immediate or urgent is let in whoever sent it and however fast. Missing a disclosure is the
worst failure this service can have; letting one message through costs a reply. For a
blocked sender that message opens no new door: the block stays, the engine raises one red
contact per run (urgency only goes up), and the officer sees the block on that contact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flows.risk import assess
from flows.types import Kind, Message
from profiles import Profile


@dataclass(frozen=True)
class RateLimits:
    """At most `burst` messages per `burst_seconds`, and `per_minute` in any 60 seconds."""

    burst: int
    burst_seconds: int
    per_minute: int
    notice_every: timedelta  # the "slow down" notice, at most once per this
    blocked_notice_every: timedelta  # the "messages are paused" notice, at most once per this

    @classmethod
    def from_profile(cls, profile: Profile, factor: float = 1.0) -> RateLimits:
        """`factor` scales the two counts (load and end-to-end tests run at machine speed)."""
        raw = profile.raw.get("rate_limits")
        if not isinstance(raw, dict):
            raise ValueError(f"profile {profile.id!r} needs rate_limits (see profile.yaml)")
        limits = cls(
            burst=max(1, round(int(raw["burst"]) * factor)),
            burst_seconds=int(raw["burst_seconds"]),
            per_minute=max(1, round(int(raw["per_minute"]) * factor)),
            notice_every=timedelta(seconds=int(raw["notice_seconds"])),
            blocked_notice_every=timedelta(minutes=int(raw["blocked_notice_minutes"])),
        )
        if not 0 < limits.burst_seconds <= 60:
            raise ValueError("rate_limits.burst_seconds must be between 1 and 60")
        return limits


@dataclass(frozen=True)
class Verdict:
    """Why a message may not start a turn (both false: it may)."""

    block_id: int | None
    over_limit: bool

    @property
    def refused(self) -> bool:
        return self.block_id is not None or self.over_limit

    @property
    def notice_kind(self) -> str:
        return "blocked" if self.block_id is not None else "rate"


def judge(limits: RateLimits, *, recent: int, last_minute: int, block_id: int | None) -> Verdict:
    """The counts exclude the message being judged."""
    over = recent >= limits.burst or last_minute >= limits.per_minute
    return Verdict(block_id=block_id, over_limit=over)


def escalates(
    message: Message, language: str | None, analyse: Callable[[str, str | None], Any] | None
) -> str | None:
    """The risk of a refused message when it must be let in anyway ("immediate", "urgent")."""
    if message.kind != Kind.TEXT or not message.text.strip():
        return None  # buttons, commands, stickers and edits cannot carry a new disclosure
    assessment = assess(message.text, language or message.language, analyse)
    return assessment.risk if assessment.escalate else None


def notice_window(limits: RateLimits, verdict: Verdict) -> timedelta:
    return limits.blocked_notice_every if verdict.block_id is not None else limits.notice_every
