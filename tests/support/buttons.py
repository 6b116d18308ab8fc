"""A sent message's buttons as a person sees them: by choice, whatever question token their
callback_data carries (bot/telegram_callback.py, flows/questions.py)."""

from __future__ import annotations

from typing import Any

from bot.telegram_callback import parse_callback


def offered(message: dict[str, Any] | None) -> dict[str, str]:
    """choice id -> the callback_data its button sends."""
    markup = (message or {}).get("reply_markup") or {}
    return {parse_callback(b["callback_data"])[0]: b["callback_data"]
            for row in markup.get("inline_keyboard", []) for b in row if "callback_data" in b}
