"""Settings from environment variables, with the documented defaults (see README)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/frontdoor.sqlite3"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    telegram_bot_token: str = ""
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    webhook_url: str = ""
    webhook_secret: str = ""
    profile: str = "hillingdon"
    host: str = "127.0.0.1"
    port: int = 8080
    alert_chat_id: str = ""
    log_level: str = "INFO"
    outbox_lease: float = 60.0
    rate_limit_factor: float = 1.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=_env("DATABASE_URL", DEFAULT_DATABASE_URL),
            telegram_bot_token=_env("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=_env("TELEGRAM_API_URL", DEFAULT_TELEGRAM_API_URL).rstrip("/"),
            webhook_url=_env("WEBHOOK_URL"),
            webhook_secret=_env("WEBHOOK_SECRET"),
            profile=_env("FRONTDOOR_PROFILE", "hillingdon"),
            host=_env("FRONTDOOR_HOST", "127.0.0.1"),
            port=int(_env("FRONTDOOR_PORT", "8080")),
            alert_chat_id=_env("ALERT_CHAT_ID"),
            log_level=_env("FRONTDOOR_LOG_LEVEL", "INFO").upper(),
            outbox_lease=float(_env("FRONTDOOR_OUTBOX_LEASE", "60")),
            rate_limit_factor=float(_env("FRONTDOOR_RATE_LIMIT_FACTOR", "1")),
        )

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)


# Documented in README and `frontdoor --help`.
ENVIRONMENT = {
    "DATABASE_URL": f"database (default {DEFAULT_DATABASE_URL}; "
    "postgresql+asyncpg://... supported)",
    "TELEGRAM_BOT_TOKEN": "Telegram bot token; Telegram is off when empty",
    "TELEGRAM_API_URL": f"Bot API base URL (default {DEFAULT_TELEGRAM_API_URL})",
    "WEBHOOK_URL": "public HTTPS URL for webhook mode; long polling when empty",
    "WEBHOOK_SECRET": "secret token Telegram sends in X-Telegram-Bot-Api-Secret-Token",
    "FRONTDOOR_PROFILE": "deployment profile folder under profiles/ (default hillingdon)",
    "FRONTDOOR_HOST": "web server address (default 127.0.0.1)",
    "FRONTDOOR_PORT": "web server port (default 8080)",
    "ALERT_CHAT_ID": "Telegram chat that receives duty alerts for red contacts",
    "FRONTDOOR_DATA_KEYS": "data keys for encryption at rest, comma-separated, newest first "
    "(`frontdoor keys generate`); required on PostgreSQL, a key file beside SQLite otherwise",
    "FRONTDOOR_LOG_LEVEL": "log level (default INFO)",
    "FRONTDOOR_OUTBOX_LEASE": "seconds a worker holds a claim on replies it sends; a crashed "
    "worker's are re-sent after this (default 60)",
    "FRONTDOOR_RATE_LIMIT_FACTOR": "multiplies the profile's per-conversation rate limits "
    "(default 1; only for load and end-to-end tests that type at machine speed)",
    "FRONTDOOR_QUICK_EXIT_URL": "where 'Leave this site' goes (default https://www.bbc.co.uk/weather)",
    "FRONTDOOR_COOKIE_SECURE": "console cookies are Secure unless 0 (plain http beyond localhost)",
}
