"""Signing officers in: password, then TOTP, then a console session; lockout on failures.

A session token lives only in the officer's cookie; the database keeps its SHA-256, so a
leaked database cannot be replayed as a cookie. The session id is replaced when the second
factor is accepted, so a token seen before sign-in finished is worthless afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from profiles import Profile
from storage.officers import ROLES, Officer, OfficerSession
from storage.repo import audit
from triage import passwords, twofactor
from triage.clock import fmt_time
from triage.text import bad_text

LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
PASSWORD_STAGE_MINUTES = 5  # time allowed between the password and the code
SESSION_IDLE_MINUTES = 60
SESSION_MAX_HOURS = 12

WRONG_CREDENTIALS = "The username or password is wrong."
WRONG_CODE = "The 6-digit code is wrong or has already been used. Wait for a new code."


class LoginError(Exception):
    """Sign-in refused; `str(error)` is the exact message shown to the officer."""


@dataclass(frozen=True)
class Principal:
    """The signed-in officer (or API client) a request acts for."""

    officer_id: int
    username: str
    display_name: str
    role: str
    session_id: int = 0
    csrf_token: str = ""
    stage: str = "full"
    must_change_password: bool = False

    def has_role(self, needed: str) -> bool:
        return has_role(self.role, needed)


def has_role(role: str, needed: str) -> bool:
    """Roles are ordered officer < manager < admin; a higher role can do what a lower can."""
    if role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _locked_message(officer: Officer, profile: Profile) -> str:
    return (
        f"This account is locked after {LOCKOUT_THRESHOLD} failed sign-in attempts. "
        f"Try again after {fmt_time(officer.locked_until, profile)}, "
        "or ask an admin to unlock it."
    )


async def _officer(session: AsyncSession, username: str) -> Officer | None:
    if bad_text(username):
        return None
    return await session.scalar(
        select(Officer).where(Officer.username == username.strip().lower())
    )


async def _fail(session: AsyncSession, officer: Officer, now: datetime, why: str) -> None:
    officer.failed_logins += 1
    await audit(session, officer.username, "login_failed", detail={"reason": why})
    if officer.failed_logins >= LOCKOUT_THRESHOLD:
        officer.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
        officer.failed_logins = 0
        await audit(session, officer.username, "account_locked", detail={})


def _check_usable(officer: Officer, profile: Profile, now: datetime) -> None:
    if not officer.active:
        raise LoginError("This account is disabled. Ask an admin to enable it.")
    if officer.locked_until is not None and officer.locked_until > now:
        raise LoginError(_locked_message(officer, profile))


async def check_password(
    session: AsyncSession, username: str, password: str, profile: Profile, now: datetime
) -> Officer:
    """The officer whose password this is; LoginError otherwise (failures are counted).

    The caller must commit even when this raises, so the failure count is kept.
    """
    officer = await _officer(session, username)
    if officer is None:
        await passwords.verify_password_async(None, password)
        await audit(session, "anonymous", "login_failed", detail={"reason": "unknown user"})
        raise LoginError(WRONG_CREDENTIALS)
    _check_usable(officer, profile, now)
    if not await passwords.verify_password_async(officer.password_hash, password):
        await _fail(session, officer, now, "password")
        if officer.locked_until is not None and officer.locked_until > now:
            raise LoginError(_locked_message(officer, profile))
        raise LoginError(WRONG_CREDENTIALS)
    return officer


async def check_code(
    session: AsyncSession, officer: Officer, code: str, profile: Profile, now: datetime
) -> None:
    """Accept a TOTP code once; LoginError otherwise (failures count towards lockout)."""
    _check_usable(officer, profile, now)
    step = twofactor.accepted_step(officer.totp_secret, code, officer.totp_last_step,
                                   now.timestamp())
    if step is None:
        await _fail(session, officer, now, "code")
        if officer.locked_until is not None and officer.locked_until > now:
            raise LoginError(_locked_message(officer, profile))
        raise LoginError(WRONG_CODE)
    officer.totp_last_step = step
    officer.failed_logins = 0
    officer.last_login_at = now


async def open_session(
    session: AsyncSession, officer: Officer, now: datetime, *, stage: str = "password"
) -> str:
    """Start a session and return its token (only the digest is stored)."""
    token = secrets.token_urlsafe(32)
    minutes = PASSWORD_STAGE_MINUTES if stage == "password" else SESSION_IDLE_MINUTES
    session.add(
        OfficerSession(
            token_hash=token_digest(token),
            officer_id=officer.id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    await session.flush()
    return token


async def load_session(
    session: AsyncSession, token: str, now: datetime, *, touch: bool = True
) -> tuple[OfficerSession, Officer] | None:
    """The live session for a cookie token, sliding its idle expiry; None if not usable."""
    if not token:
        return None
    row = (
        await session.execute(
            select(OfficerSession, Officer)
            .join(Officer, Officer.id == OfficerSession.officer_id)
            .where(OfficerSession.token_hash == token_digest(token))
        )
    ).first()
    if row is None:
        return None
    sess, officer = row[0], row[1]
    if sess.revoked_at is not None or sess.expires_at <= now or not officer.active:
        return None
    if sess.created_at + timedelta(hours=SESSION_MAX_HOURS) <= now:
        return None
    if touch and sess.stage == "full" and (now - sess.last_seen_at).total_seconds() > 30:
        sess.last_seen_at = now
        sess.expires_at = now + timedelta(minutes=SESSION_IDLE_MINUTES)
    return sess, officer


async def promote_session(
    session: AsyncSession, sess: OfficerSession, now: datetime
) -> str:
    """Second factor accepted: a fresh token and CSRF secret for the full session."""
    token = secrets.token_urlsafe(32)
    sess.token_hash = token_digest(token)
    sess.csrf_token = secrets.token_urlsafe(32)
    sess.stage = "full"
    sess.last_seen_at = now
    sess.expires_at = now + timedelta(minutes=SESSION_IDLE_MINUTES)
    await session.flush()
    return token


async def revoke_session(session: AsyncSession, sess: OfficerSession, now: datetime) -> None:
    sess.revoked_at = now


async def revoke_all_sessions(session: AsyncSession, officer_id: int, now: datetime) -> None:
    await session.execute(
        update(OfficerSession)
        .where(OfficerSession.officer_id == officer_id, OfficerSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def principal(officer: Officer, sess: OfficerSession) -> Principal:
    return Principal(
        officer_id=officer.id,
        username=officer.username,
        display_name=officer.display_name or officer.username,
        role=officer.role,
        session_id=sess.id,
        csrf_token=sess.csrf_token,
        stage=sess.stage,
        must_change_password=officer.must_change_password,
    )
