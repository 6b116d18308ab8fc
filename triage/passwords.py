"""The hub's password policy (seed 001, portal guide) and argon2 hashing.

Hashing is deliberately slow, so the async helpers run it in a worker thread and the event
loop keeps serving the queue while someone signs in.
"""

from __future__ import annotations

import asyncio
import functools
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
HISTORY_SIZE = 5
# Seed 001 says "special characters (such as ?,!,%)": printable ASCII punctuation.
SPECIALS = frozenset(string.punctuation)
_ALLOWED = frozenset(string.ascii_letters + string.digits) | SPECIALS

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the username is unknown, so a wrong name costs as long as a
    wrong password and timing does not reveal which accounts exist. Made at the first sign-in,
    not at import: argon2 takes 64 MiB while it hashes, and every bot worker imports this."""
    return _hasher.hash("Not-a-real-password-1!")

POLICY_TEXT = (
    "at least 12 characters; only letters, digits and special characters such as ? ! %; "
    "at least one letter, one upper-case letter, one digit and one special character; "
    "different from your current and previous passwords"
)


class PolicyError(ValueError):
    """The password breaks the policy; the message says exactly how."""


def check_policy(password: str) -> None:
    """Raise PolicyError with the first rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise PolicyError(f"The password must be at least {MIN_LENGTH} characters long.")
    if any(ch not in _ALLOWED for ch in password):
        raise PolicyError(
            "The password must contain only letters, digits and special characters "
            "(such as ? ! %); spaces and accented letters are not allowed."
        )
    if not any(ch.isalpha() for ch in password):
        raise PolicyError("The password must contain at least one letter.")
    if not any(ch.isupper() for ch in password):
        raise PolicyError("The password must contain at least one upper-case letter.")
    if not any(ch.isdigit() for ch in password):
        raise PolicyError("The password must contain at least one digit.")
    if not any(ch in SPECIALS for ch in password):
        raise PolicyError("The password must contain at least one special character.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_dummy(password: str) -> bool:
    """Spend the time of one real verification; always False."""
    verify_password(_dummy_hash(), password)
    return False


def reused(password: str, current_hash: str | None, history: list[str]) -> bool:
    """True when the password matches the current one or any kept earlier one."""
    hashes = ([current_hash] if current_hash else []) + list(history)
    return any(verify_password(h, password) for h in hashes)


def new_history(current_hash: str | None, history: list[str]) -> list[str]:
    """The history after a change: the old current hash first, at most HISTORY_SIZE kept."""
    kept = ([current_hash] if current_hash else []) + list(history)
    return kept[:HISTORY_SIZE]


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        return await asyncio.to_thread(verify_dummy, password)
    return await asyncio.to_thread(verify_password, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def reused_async(password: str, current_hash: str | None, history: list[str]) -> bool:
    return await asyncio.to_thread(reused, password, current_hash, history)
