"""Commands that always work, and the typed words that mean the same in each language."""

from __future__ import annotations

import re

from flows.i18n import N_, Translator

COMMANDS = ("start", "restart", "back", "help", "human", "stop", "delete", "language", "status",
            "disagree")

# Whole-message words that act as commands. Each is a catalog string, so a translator adds
# the words people really type in their language ("wstecz", "رجوع"...).
ALIASES: dict[str, tuple[str, ...]] = {
    "restart": (N_("start again"), N_("restart"), N_("start over")),
    "back": (N_("back"), N_("go back"), N_("previous")),
    "help": (N_("help"), N_("menu")),
    "human": (N_("talk to a person"), N_("speak to someone"), N_("human"), N_("agent")),
    "stop": (N_("stop"), N_("pause")),
    "delete": (N_("delete my data"), N_("delete"), N_("forget me")),
    "language": (N_("language"), N_("change language")),
    "status": (N_("status"), N_("check my request")),
    "disagree": (N_("I disagree"), N_("disagree")),
}

# Telegram's command menu: (command, description) - descriptions are catalog strings.
MENU = (
    ("start", N_("Start or carry on")),
    ("help", N_("What you can do here")),
    ("back", N_("Go back one question")),
    ("restart", N_("Start again")),
    ("human", N_("Talk to a person")),
    ("language", N_("Change language")),
    ("status", N_("Check a request you sent")),
    ("stop", N_("Pause and come back later")),
    ("delete", N_("Delete my data")),
)

_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.strip().lower().strip(".!?。؟"))


def parse_command(text: str) -> tuple[str, str] | None:
    """'/back' or '/status SFH-ABC123' -> (name, argument); None if not a known command."""
    if not text.startswith("/"):
        return None
    head, _, arg = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return (name, arg.strip()) if name in COMMANDS else None


def command_for_words(text: str, t: Translator) -> str | None:
    said = _norm(text)
    if not said or len(said) > 40:
        return None
    for command, words in ALIASES.items():
        for word in words:
            if said == _norm(word) or said == _norm(t.gettext(word)):
                return command
    return None
