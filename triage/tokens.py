"""API tokens for case-management integration: bearer tokens limited by scope.

The token is shown once when created; only its SHA-256 is stored.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.officers import ApiToken
from storage.repo import audit
from triage.auth import token_digest
from triage.text import bad_text

PREFIX = "fdt_"
SCOPES = {
    "contacts:read": "list contacts and read a contact's handover (each read is audited)",
    "contacts:write": "take, claim and release contacts; record category, RAG and outcome; "
    "reply to the referrer",
    "figures:read": "read the manager figures",
}


class TokenError(ValueError):
    """A refused token change; the message says exactly why."""


async def create(
    session: AsyncSession,
    *,
    name: str,
    scopes: list[str],
    actor: str,
    now: datetime,
    days: int | None = None,
) -> str:
    name = name.strip()
    if not name or len(name) > 80 or bad_text(name):
        raise TokenError("A token name is 1 to 80 characters.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise TokenError(f"Unknown scope {unknown[0]!r}; choose from: {', '.join(SCOPES)}.")
    if not scopes:
        raise TokenError("Choose at least one scope.")
    if await session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"A token named {name!r} already exists.")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            name=name,
            token_hash=token_digest(token),
            prefix=token[:12],
            scopes=sorted(set(scopes)),
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
        )
    )
    await session.flush()
    await audit(session, actor, "token_created", detail={"token": name, "scopes": scopes})
    return token


async def authenticate(session: AsyncSession, token: str, now: datetime) -> ApiToken | None:
    if not token.startswith(PREFIX) or bad_text(token):
        return None
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return row


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.name))).all())


async def revoke(session: AsyncSession, name: str, *, actor: str, now: datetime) -> None:
    row = None if bad_text(name) else await session.scalar(
        select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"There is no token named {name!r}.")
    row.revoked_at = now
    await audit(session, actor, "token_revoked", detail={"token": name})
