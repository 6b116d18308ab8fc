"""Web chat keys and resume codes.

The browser holds a random session token (in memory, or in sessionStorage if the person
asks); the conversation is keyed by the token's SHA-256, so the database never holds the
token. A resume code is the way back after the tab is closed: short enough to write down,
stored only as a digest, valid while the draft is kept (30 days, renewed on use).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from storage.db import Database
from storage.models import Conversation
from storage.types import utcnow
from storage.web import WebResumeCode

CHANNEL = "web"
# No vowels (no accidental words) and nothing easily misread (0/O, 1/I/L, 5/S, U/V).
ALPHABET = "2346789BCDFGHJKMNPQRTWXYZ"
CODE_LENGTH = 10  # 25**10 ~ 2**46: far beyond online guessing under the attempt limits
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(token: object) -> bool:
    return isinstance(token, str) and bool(_TOKEN.match(token))


def chat_key(token: str) -> str:
    """The conversation key for a token: a digest, so a database copy can't act as the person."""
    return "w" + hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise(text: object) -> str | None:
    """What the person typed -> the bare code, or None if it can't be one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    code = re.sub(r"[\s\-_.]", "", text).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def digest(code: str) -> str:
    return hashlib.sha256(f"frontdoor-web-resume:{code}".encode()).hexdigest()


async def issue(db: Database, chat: str, days: int) -> str:
    """A fresh code for `chat`; any earlier code for it stops working."""
    code = new_code()
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(delete(WebResumeCode).where(WebResumeCode.chat == chat))
        session.add(
            WebResumeCode(
                code_hash=digest(code),
                chat=chat,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
    return code


async def redeem(db: Database, code: str, days: int) -> str | None:
    """The chat key a code opens, or None. Using a code keeps it valid for `days` more."""
    now = utcnow()
    async with db.transaction() as session:
        row = await session.scalar(
            select(WebResumeCode).where(
                WebResumeCode.code_hash == digest(code), WebResumeCode.expires_at > now
            )
        )
        if row is None:
            return None
        exists = await session.scalar(
            select(Conversation.id).where(
                Conversation.channel == CHANNEL, Conversation.chat == row.chat
            )
        )
        if exists is None:  # deleted or expired conversation: nothing to come back to
            await session.delete(row)
            return None
        row.last_used_at = now
        row.expires_at = now + timedelta(days=days)
        return row.chat


async def forget_if_deleted(db: Database, chat: str) -> bool:
    """After /delete: drop the chat's codes. True if the conversation is gone."""
    async with db.transaction() as session:
        exists = await session.scalar(
            select(Conversation.id).where(
                Conversation.channel == CHANNEL, Conversation.chat == chat
            )
        )
        if exists is not None:
            return False
        await session.execute(delete(WebResumeCode).where(WebResumeCode.chat == chat))
    return True


async def purge(db: Database) -> int:
    """Delete expired codes (the sweep's job; an expired code already opens nothing)."""
    async with db.transaction() as session:
        result = await session.execute(
            delete(WebResumeCode).where(WebResumeCode.expires_at <= utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)
