"""Officer accounts: add, disable, enable, reset, unlock, change password.

Shared by `frontdoor officers ...` and the admin pages so both apply the same rules and
write the same audit events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.officers import ROLES, Officer
from storage.repo import audit
from triage import passwords, twofactor
from triage.auth import revoke_all_sessions
from triage.text import bad_text

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,78}$")


class AccountError(ValueError):
    """A refused account change; the message says exactly why."""


@dataclass(frozen=True)
class Enrolment:
    """What a new or reset officer needs to set up their authenticator app (shown once)."""

    username: str
    totp_secret: str
    totp_uri: str


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise AccountError(
            "A username is 2 to 79 characters: lower-case letters, digits, dots, dashes "
            "and underscores, starting with a letter or digit."
        )
    return name


async def get(session: AsyncSession, username: str) -> Officer:
    if bad_text(username):
        raise AccountError("There is no officer with that username.")
    officer = await session.scalar(
        select(Officer).where(Officer.username == username.strip().lower())
    )
    if officer is None:
        raise AccountError(f"There is no officer with the username {username.strip()!r}.")
    return officer


async def list_officers(session: AsyncSession) -> list[Officer]:
    return list((await session.scalars(select(Officer).order_by(Officer.username))).all())


async def add(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
    now: datetime,
) -> Enrolment:
    name = normalise_username(username)
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    if await session.scalar(select(Officer.id).where(Officer.username == name)) is not None:
        raise AccountError(f"An officer with the username {name!r} already exists.")
    try:
        passwords.check_policy(password)
    except passwords.PolicyError as exc:
        raise AccountError(str(exc)) from exc
    secret = twofactor.new_secret()
    session.add(
        Officer(
            username=name,
            display_name=display_name.strip()[:120] or name,
            role=role,
            password_hash=await passwords.hash_password_async(password),
            password_history=[],
            password_changed_at=now,
            totp_secret=secret,
            created_at=now,
        )
    )
    await session.flush()
    await audit(session, actor, "officer_added", detail={"officer": name, "role": role})
    return Enrolment(name, secret, twofactor.provisioning_uri(secret, name))


async def set_active(
    session: AsyncSession, username: str, active: bool, *, actor: str, now: datetime
) -> Officer:
    officer = await get(session, username)
    officer.active = active
    officer.disabled_at = None if active else now
    if not active:
        await revoke_all_sessions(session, officer.id, now)
    await audit(
        session, actor, "officer_enabled" if active else "officer_disabled",
        detail={"officer": officer.username},
    )
    return officer


async def set_password(
    session: AsyncSession, officer: Officer, password: str, now: datetime
) -> None:
    """Policy and reuse checks, then store the new hash and keep the old one in history."""
    try:
        passwords.check_policy(password)
    except passwords.PolicyError as exc:
        raise AccountError(str(exc)) from exc
    if await passwords.reused_async(password, officer.password_hash, officer.password_history):
        raise AccountError(
            "The new password must be different from your current and previous passwords."
        )
    new_hash = await passwords.hash_password_async(password)
    officer.password_history = passwords.new_history(
        officer.password_hash, list(officer.password_history)
    )
    officer.password_hash = new_hash
    officer.password_changed_at = now


async def reset(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    new_totp: bool,
    actor: str,
    now: datetime,
) -> Enrolment | None:
    """A new temporary password (changed at next sign-in), unlock, end every session."""
    officer = await get(session, username)
    await set_password(session, officer, password, now)
    officer.must_change_password = True
    officer.failed_logins = 0
    officer.locked_until = None
    enrolment = None
    if new_totp:
        officer.totp_secret = twofactor.new_secret()
        officer.totp_last_step = 0
        enrolment = Enrolment(
            officer.username,
            officer.totp_secret,
            twofactor.provisioning_uri(officer.totp_secret, officer.username),
        )
    await revoke_all_sessions(session, officer.id, now)
    await audit(
        session, actor, "officer_reset",
        detail={"officer": officer.username, "new_totp": new_totp},
    )
    return enrolment


async def unlock(session: AsyncSession, username: str, *, actor: str) -> Officer:
    officer = await get(session, username)
    officer.failed_logins = 0
    officer.locked_until = None
    await audit(session, actor, "officer_unlocked", detail={"officer": officer.username})
    return officer


async def set_role(session: AsyncSession, username: str, role: str, *, actor: str) -> Officer:
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    officer = await get(session, username)
    old = officer.role
    officer.role = role
    await audit(
        session, actor, "officer_role", detail={"officer": officer.username, "from": old,
                                                "to": role},
    )
    return officer


async def change_own_password(
    session: AsyncSession, officer: Officer, current: str, new: str, confirm: str,
    now: datetime,
) -> None:
    if not await passwords.verify_password_async(officer.password_hash, current):
        raise AccountError("Your current password is wrong.")
    if new != confirm:
        raise AccountError("The new password and its confirmation are different.")
    await set_password(session, officer, new, now)
    officer.must_change_password = False
    await audit(session, officer.username, "password_changed", detail={})
