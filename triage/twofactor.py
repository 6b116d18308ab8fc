"""TOTP two-factor codes (RFC 6238, as any authenticator app makes them).

A code is accepted once only: the accepted time step is stored and an older or equal step is
refused, so a code read over someone's shoulder cannot be replayed within its 30 seconds.
"""

from __future__ import annotations

import hmac
import time

import pyotp

ISSUER = "Front Door console"
INTERVAL = 30
WINDOW = 1  # accept the previous and next 30-second step for clock drift


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to, or None when it is wrong or already used."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    at = time.time() if now is None else now
    current = int(at // INTERVAL)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None
