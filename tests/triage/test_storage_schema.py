"""Migration 0002 on SQLite and PostgreSQL, the handover JSON Schema, and the generic
handover view, and the figures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import Database
from storage.migrate import upgrade_sync
from storage.models import Base
from storage.types import utcnow
from tests.triage.conftest import add_contact, in_thread
from triage import figures, handover_view
from triage.outcome import Decision, record
from triage.queue import locked

SCHEMA = Path(__file__).resolve().parents[2] / "storage" / "handover.schema.json"
EXAMPLE = {
    "journey": "self_referral",
    "sections": [{"id": "about", "title": "About the child",
                  "answers": [{"question": "Age", "answer": 4},
                              {"question": "Needs", "answer": ["speech", "sleep"]}]}],
    "children": [{"name": "Ada", "date_of_birth": "2021-05-01", "interpreter_needed": False}],
    "household": [{"name": "Sam", "relationship": "father", "parental_responsibility": True}],
    "address": {"lines": ["1 High St"], "postcode": "UB3 1AA", "locality": "south_east"},
    "consent": {"given_by": "parent_carer", "referral_consent": "no",
                "no_consent_reason": "significant_harm_risk",
                "no_consent_explanation": "Dad would be angry", "sharing": "some"},
    "contact_safety": {"safe_to_call": "no", "notes": "Only text, never call"},
    "callback": {"requested": True, "phone": "+447700900123", "safe_to_call": False},
    "risk": {"level": "urgent", "evidence": [{"phrase": "he hits", "language": "en"}],
             "events": [{"risk": "urgent", "evidence": [{"phrase": "he hits"}],
                         "at": "2026-01-01T10:00:00+00:00", "step": "worry"}]},
    "schema": "frontdoor.handover/1",
    "new_engine_key": {"anything": "goes"},
}


MINE = ("officers", "officer_sessions", "api_tokens", "blocked_senders", "sender_notices",
        "safeguarding_holds", "ix_inbox_chat_received")


def _diff(connection: Any) -> list[Any]:
    """Differences between migrations and models for the tables triage owns."""
    diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in diff if any(name in repr(d) for name in MINE)]


async def test_migrations_match_the_models(db: Database) -> None:
    from storage import abuse, holds, officers  # noqa: F401

    async with db.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {name for name in MINE if not name.startswith("ix_")} <= tables
    assert diff == []


def test_migration_0002_downgrades_and_upgrades(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    in_thread(upgrade_sync, url)
    from alembic import command

    from storage.migrate import alembic_config

    in_thread(command.downgrade, alembic_config(url), "0001")
    in_thread(upgrade_sync, url)


def test_handover_schema_is_valid_and_describes_the_example() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert jsonschema_rs.meta.is_valid(schema)
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(EXAMPLE)
    assert not validator.is_valid({"risk": {"level": "panic"}})
    assert not validator.is_valid({"triage": {"replies": [{"text": "no time"}]}})


async def test_handover_view_renders_every_section_and_unknown_keys(db: Database) -> None:
    contact = await add_contact(db, handover=EXAMPLE, urgency="urgent", rag="red")
    blocks = handover_view.build(contact, [])
    titles = [b.title for b in blocks]
    assert titles[:3] == ["Risk", "Is it safe to contact them?", "Call back"]
    assert "About the child" in titles and "New engine key" in titles
    safety = blocks[1]
    assert safety.warning
    about = next(b for b in blocks if b.title == "About the child")
    assert [(r.label, r.value) for r in about.rows] == [("Age", "4"),
                                                        ("Needs", "speech, sleep")]
    household = next(b for b in blocks if b.id == "household")
    assert household.items[0][0] == "Person 1: Sam"
    consent = next(b for b in blocks if b.id == "consent")
    assert ("Why consent was not obtained", "significant_harm_risk") in [
        (r.label, r.value) for r in consent.rows]


async def test_figures_count_and_time_to_triage(db: Database, profile: Any) -> None:
    now = utcnow()
    for language, locality in (("pl", "north"), ("pl", "south_west"), ("en", "north")):
        await add_contact(db, language=language, locality=locality,
                          created_at=now - timedelta(hours=2))
    red = await add_contact(db, urgency="immediate", rag="red",
                            created_at=now - timedelta(minutes=20))
    async with db.transaction() as session:
        row = await locked(session, red.reference)
        await record(session, row, Decision(category="domestic_violence", outcome="send_to_mash",
                                            close=True), actor="a", profile=profile, now=now)
    today = now.date()
    async with db.transaction() as session:
        result = await figures.compute(session, profile, today - timedelta(days=1),
                                       today + timedelta(days=1))
    assert result.total == 4
    by_language = {c.key: c.count for c in result.by["language"]}
    assert by_language == {"pl": 2, "en": 2}
    red_times = next(t for t in result.times if t.band == "red")
    assert red_times.closed == 1 and red_times.within_sla == 1
    assert red_times.median_minutes is not None and 19 < red_times.median_minutes < 21
    csv = figures.to_csv(result)
    assert "outcome,send_to_mash,Send to MASH,1" in csv
