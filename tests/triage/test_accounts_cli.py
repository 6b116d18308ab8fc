"""Password policy, officer accounts through `frontdoor officers ...`, `frontdoor handover`
and `frontdoor api-tokens ...`, run the way an admin runs them."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storage.db import Database
from storage.officers import Officer
from tests.triage.conftest import add_contact
from triage import cli, handover_report, passwords

GOOD = "Correct-Horse-9!"


@pytest.mark.parametrize(("password", "message"), [
    ("Short-1!", "at least 12 characters"),
    ("no-upper-case-1!", "upper-case letter"),
    ("No-Digits-Here!!", "at least one digit"),
    ("NoSpecials12345", "special character"),
    ("Has space Inside-1", "only letters, digits and special characters"),
    ("Accentué-Mot-De-1", "only letters, digits and special characters"),
    ("1234567890-!A", None),
])
def test_password_policy(password: str, message: str | None) -> None:
    if message is None:
        passwords.check_policy(password)
    else:
        with pytest.raises(passwords.PolicyError, match=message):
            passwords.check_policy(password)


@given(st.text(min_size=0, max_size=40))
def test_policy_accepts_only_what_the_seed_allows(password: str) -> None:
    try:
        passwords.check_policy(password)
    except passwords.PolicyError:
        return
    assert len(password) >= 12
    assert any(c.isupper() for c in password) and any(c.isdigit() for c in password)
    assert any(c in passwords.SPECIALS for c in password)
    assert all(c.isascii() and not c.isspace() for c in password)


def test_reuse_is_detected() -> None:
    first = passwords.hash_password(GOOD)
    second = passwords.hash_password("Second-Password-2")
    history = passwords.new_history(first, [])
    assert passwords.reused(GOOD, second, history)
    assert not passwords.reused("Third-Password-33", second, history)


def _run(monkeypatch: pytest.MonkeyPatch, url: str, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(argv)


def test_officers_add_disable_reset(monkeypatch: pytest.MonkeyPatch, sqlite_url: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, sqlite_url, ["officers", "add", "Nadia", "--name", "Nadia K",
                                          "--role", "manager", "--password-stdin"],
                GOOD + "\n") == 0
    out = capsys.readouterr().out
    assert "Added nadia (manager)." in out and "otpauth://totp/" in out
    assert _run(monkeypatch, sqlite_url, ["officers", "add", "nadia", "--password-stdin"],
                GOOD + "\n") == 1
    assert "already exists" in capsys.readouterr().err
    assert _run(monkeypatch, sqlite_url, ["officers", "add", "weak", "--password-stdin"],
                "password\n") == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert _run(monkeypatch, sqlite_url, ["officers", "disable", "nadia"]) == 0
    assert _run(monkeypatch, sqlite_url, ["officers", "reset", "nadia", "--password-stdin"],
                GOOD + "\n") == 1
    assert "different from your current and previous passwords" in capsys.readouterr().err
    assert _run(monkeypatch, sqlite_url, ["officers", "reset", "nadia", "--new-totp",
                                          "--password-stdin"], "Brand-New-Pass-77\n") == 0
    assert "key:" in capsys.readouterr().out
    assert _run(monkeypatch, sqlite_url, ["officers", "list"]) == 0
    listing = capsys.readouterr().out
    assert "nadia" in listing and "disabled" in listing
    assert _run(monkeypatch, sqlite_url, ["officers", "disable", "ghost"]) == 1
    assert "There is no officer with the username 'ghost'." in capsys.readouterr().err


async def test_reset_forces_a_password_change(sqlite_db: Database, monkeypatch: Any) -> None:
    from storage.types import utcnow
    from triage import accounts

    async with sqlite_db.transaction() as session:
        await accounts.add(session, username="omar", display_name="", role="officer",
                           password=GOOD, actor="t", now=utcnow())
        await accounts.reset(session, "omar", "Temporary-Pass-12", new_totp=False,
                             actor="t", now=utcnow())
        officer = await session.scalar(select(Officer).where(Officer.username == "omar"))
        assert officer is not None and officer.must_change_password
        assert len(officer.password_history) == 1


def test_api_tokens_cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, sqlite_url, ["api-tokens", "create", "mosaic", "--scope",
                                          "contacts:read"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("fdt_")
    assert _run(monkeypatch, sqlite_url, ["api-tokens", "revoke", "mosaic"]) == 0
    assert _run(monkeypatch, sqlite_url, ["api-tokens", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


async def test_out_of_hours_window_and_lines(db: Database, profile: Any) -> None:
    day = datetime(2026, 1, 15).date()  # winter: London is UTC
    window = handover_report.window_for(profile, day)
    assert window.start == datetime(2026, 1, 14, 17, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    summer = handover_report.window_for(profile, datetime(2026, 7, 15).date())
    assert summer.start == datetime(2026, 7, 14, 16, 0, tzinfo=UTC)  # 17:00 BST
    inside = window.start + timedelta(hours=3)
    red = await add_contact(db, urgency="immediate", rag="red", created_at=inside,
                            claimed_by="pat", status="claimed")
    await add_contact(db, rag="green", created_at=inside - timedelta(hours=1),
                      outcome="information_and_advice_only", status="closed")
    await add_contact(db, created_at=window.end + timedelta(minutes=5))  # day time
    async with db.transaction() as session:
        rows = await handover_report.lines(session, profile, window)
    assert rows[0].reference == red.reference
    assert len(rows) == 2
    assert rows[0].held_by == "pat" and rows[0].outcome == "none yet"
    assert rows[1].outcome == "Information and Advice Only"
    text = handover_report.as_text(window, rows, profile)
    assert "Out-of-hours handover for Thursday 15 January 2026" in text


def test_the_weekend_handovers_leave_no_contact_out(profile: Any) -> None:
    # The bot treats Saturday and Sunday as out of hours all day; a contact on Saturday
    # afternoon must reach a morning handover. Fri 16 Jan 2026 -> Mon 19 Jan (London is UTC).
    saturday, sunday, monday = (handover_report.window_for(profile, datetime(2026, 1, d).date())
                                for d in (17, 18, 19))
    assert saturday.start == datetime(2026, 1, 16, 17, 0, tzinfo=UTC)  # Friday evening
    assert sunday.start == saturday.end == datetime(2026, 1, 17, 8, 0, tzinfo=UTC)
    assert monday.start == sunday.end and monday.end == datetime(2026, 1, 19, 8, 0, tzinfo=UTC)
    tuesday = handover_report.window_for(profile, datetime(2026, 1, 20).date())
    assert tuesday.start == datetime(2026, 1, 19, 17, 0, tzinfo=UTC)  # Monday was a weekday


def test_handover_cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, sqlite_url, ["handover", "--date", "2026-01-15"]) == 0
    assert "0 contact(s)" in capsys.readouterr().out
    assert _run(monkeypatch, sqlite_url, ["handover", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("Reference,Arrived,Urgency")
    pdf = tmp_path / "handover.pdf"
    assert _run(monkeypatch, sqlite_url, ["handover", "--pdf", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert _run(monkeypatch, sqlite_url, ["handover", "--date", "15/01/2026"]) == 1
    assert "--date must look like 2025-01-31." in capsys.readouterr().err
