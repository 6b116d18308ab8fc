"""Every word of the web chat page, as catalog strings.

One table serves the first render (Jinja) and the live switch: when the person changes
language mid-chat the server sends this table translated, so the page chrome follows the
conversation without a reload (a reload would drop a chat kept only in memory).
"""

from __future__ import annotations

from typing import Any

from flows.i18n import N_, translator
from flows.render import fill
from profiles import Profile

STRINGS: dict[str, str] = {
    "title": N_("Get help for your family – {hub_name}"),
    "heading": N_("Chat with the {hub_name}"),
    "emergency": N_(
        "If a child is in danger now, call {emergency}. You can phone the hub "
        "24 hours a day on {hub_phone}."
    ),
    "leave": N_("Leave this site"),
    "leave_hint": N_("To leave quickly, press Escape, or press Shift three times."),
    "leaving": N_("Leaving…"),
    "tools": N_("Chat options"),
    "language": N_("Language"),
    "save": N_("Save and come back later"),
    "have_code": N_("I have a code"),
    "log": N_("Conversation"),
    "you_said": N_("You said:"),
    "bot_said": N_("The hub's chat said:"),
    "hub_said": N_("Message from the hub:"),
    "warning": N_("Important:"),
    "choices": N_("Choose an answer"),
    "message": N_("Your message"),
    "send": N_("Send"),
    "keep": N_("Keep this chat if the page reloads"),
    "keep_hint": N_(
        "It stays in this browser tab only, until you close the tab. On a shared "
        "phone or computer, leave this unticked."
    ),
    "safety": N_(
        "Staying safe: this chat keeps nothing in your browser unless you choose to. "
        "Your browser history may still show this site, so a private window is "
        "safer."
    ),
    "connecting": N_("Connecting…"),
    "reconnecting": N_("The connection was lost. Trying again… Your answers are safe."),
    "too_long": N_(
        "That message is too long to send in one go. Please split it into shorter messages."
    ),
    "slow_down": N_("You're sending messages very quickly. Please wait a moment, then try again."),
    "code_intro": N_(
        "Your code is below. Write it down somewhere safe. With it you can carry "
        "on within {days} days, on this or another device."
    ),
    "code_label": N_("Your code"),
    "code_enter": N_("Enter your code"),
    "code_go": N_("Carry on"),
    "code_bad": N_("That code didn't work. Check it and try again, or carry on with a new chat."),
    "code_busy": N_("Too many tries. Please wait a few minutes and try again."),
    "close": N_("Close"),
    "call": N_("Call {number}"),
    "call_hub": N_("Call the hub on {number}"),
    "neutral": N_("Weather"),
    "noscript": N_(
        "This chat needs JavaScript switched on. You can phone the hub 24 hours a "
        "day on {hub_phone}. If a child is in danger now, call {emergency}."
    ),
}


def page_strings(profile: Profile, language: str) -> dict[str, str]:
    """The table in `language`, with the profile's names and numbers filled in.

    Placeholders the client fills (`{number}`, `{code}`) stay as they are.
    """
    t = translator(language)
    params: dict[str, Any] = {
        "hub_name": t(profile.hub_name),
        "hub_phone": profile.hub_phone,
        "emergency": profile.emergency_number,
        "days": profile.draft_retention_days,
    }
    return {key: fill(t(text), params) for key, text in STRINGS.items()}
