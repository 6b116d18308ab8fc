"""Channel-neutral message types: the only thing a channel adapter sees.

A channel turns a platform update into a `Message` and renders a `Reply`.
Adding WhatsApp or SMS means one adapter that speaks these two types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What the person sent, as far as the engine cares."""

    TEXT = "text"
    CHOICE = "choice"  # a button press; `choice` holds the choice id
    COMMAND = "command"  # /start, /back ...; `command` holds the name without the slash
    UNSUPPORTED = "unsupported"  # sticker, photo, voice, file, location ...
    EDITED = "edited"  # an edit of an earlier message: we never rewrite history


class Flag(StrEnum):
    """Hints a channel may render specially; the text always stands on its own."""

    EMERGENCY = "emergency"  # call 999 now
    URGENT = "urgent"  # phone the hub now
    SUBMITTED = "submitted"  # a contact reached the queue
    ENDED = "ended"  # conversation closed (stop, delete)
    QUICK_EXIT = "quick_exit"  # web: leave the page
    FREE_TEXT = "free_text"  # the question wants typed text
    HUB_REPLY = "hub_reply"  # a message from an officer


@dataclass(frozen=True, slots=True)
class Message:
    """One inbound event from a person on some channel."""

    channel: str  # "telegram", "web", "terminal"
    chat: str  # the channel's conversation key (Telegram chat id, web session id)
    kind: Kind
    text: str = ""  # typed text; for COMMAND only the argument ("/status SFH-1" -> "SFH-1")
    choice: str = ""
    command: str = ""
    language: str | None = None  # the platform's language hint (Telegram language_code)
    external_id: str | None = None  # the platform's unique id for dedup (update_id)
    detail: str = ""  # for UNSUPPORTED: "sticker", "photo", "voice" ...
    question: str = ""  # for CHOICE: Reply.question of the buttons pressed ("" if unknown)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "chat": self.chat,
            "kind": self.kind.value,
            "text": self.text,
            "choice": self.choice,
            "command": self.command,
            "language": self.language,
            "external_id": self.external_id,
            "detail": self.detail,
            "question": self.question,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            channel=data["channel"],
            chat=data["chat"],
            kind=Kind(data["kind"]),
            text=data.get("text", ""),
            choice=data.get("choice", ""),
            command=data.get("command", ""),
            language=data.get("language"),
            external_id=data.get("external_id"),
            detail=data.get("detail", ""),
            question=data.get("question", ""),
        )


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: `id` comes back in Message.choice, `label` is already translated."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One outbound message, already translated into the person's language."""

    text: str
    choices: tuple[Choice, ...] = ()
    flags: frozenset[Flag] = field(default_factory=frozenset)
    language: str = "en"
    rtl: bool = False
    # Which question the buttons answer: a channel sends it back with a press (Message.question)
    # so a press on an earlier question's buttons (a double tap, an old message) is not taken
    # as an answer to the current one.
    question: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "choices": [{"id": c.id, "label": c.label} for c in self.choices],
            "flags": sorted(f.value for f in self.flags),
            "language": self.language,
            "rtl": self.rtl,
            "question": self.question,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            choices=tuple(Choice(c["id"], c["label"]) for c in data.get("choices", [])),
            flags=frozenset(Flag(f) for f in data.get("flags", [])),
            language=data.get("language", "en"),
            rtl=bool(data.get("rtl", False)),
            question=data.get("question", ""),
        )
