"""Encryption at rest (issue 7, item 5): what a family tells us is unreadable in the database,
readable through the application, and stays readable across restarts, key rotation and the
migration that converts an existing plaintext database.

Every database test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from flows.types import Kind, Message
from storage import keys
from storage.crypto import (
    ENV,
    MISSING_ON_POSTGRES,
    DataKeyError,
    Keyring,
    key_file_for,
    keyring_for,
    parse_keys,
    unreadable_message,
)
from storage.db import Database
from storage.migrate import alembic_config, upgrade_sync
from storage.models import Base, ConsentRecord, Contact, Conversation, InboxItem, Turn
from storage.officers import Officer
from storage.types import utcnow
from tests.conftest import TEST_DATA_KEY
from tests.support.botproc import ROOT, BotProcess, TelegramUser
from tests.support.chat import PARENT_JOURNEY, Chat, play
from triage import accounts

# What a parent types: none of it may be readable in the database itself.
NAME, CHILD, STREET = "Quillonia", "Zephyrinne", "44 Marrowbone Lane"
NHS = "943 476 5919"
WORRY = (f"{CHILD} (NHS number {NHS}) has been really angry since Brannoch left and we are "
         "behind on rent.")
SHARING = "Nothing to the Vantressa family please"
PLAIN = (NAME, CHILD, STREET, "Brannoch", "Vantressa", "4765919", "9434765919", "7911123456")

ENCRYPTED = sorted(f"{t.name}.{c.name}" for t, c in keys.encrypted_columns())


def journey() -> list[tuple[str, str]]:
    replace = {"Maria": NAME, "Amy": CHILD, "12 High Street": STREET,
               "Please don't share anything with my ex-partner's family": SHARING}
    steps = [(a, replace.get(v, v)) for a, v in PARENT_JOURNEY]
    at = next(i for i, (_, v) in enumerate(steps) if v.startswith("Amy has been"))
    steps[at] = ("say", WORRY)
    return steps


async def submitted_referral(db: Database) -> Contact:
    chat = Chat(db, chat="4401")
    await play(chat, journey())
    await chat.click("submit")
    [contact] = await chat.contacts()
    return contact


def keyring(*keys_: str) -> Keyring:
    return Keyring(parse_keys(",".join(keys_), "the test keys"), "the test keys")


async def raw_rows(db: Database) -> dict[str, list[str]]:
    """Every encrypted column's stored values, read with plain SQL (no column types)."""
    out: dict[str, list[str]] = {}
    async with db.engine.connect() as conn:
        for tbl, col in keys.encrypted_columns():
            rows = await conn.execute(text(f'SELECT "{col.name}" FROM "{tbl.name}" '
                                           f'WHERE "{col.name}" IS NOT NULL'))
            out[f"{tbl.name}.{col.name}"] = [str(v) for (v,) in rows]
    return out


async def raw_dump(db: Database) -> str:
    """Every row of every table as the database holds it."""
    parts: list[str] = []
    async with db.engine.connect() as conn:
        for tbl in Base.metadata.sorted_tables:
            if db.is_postgres:
                rows = await conn.execute(text(f'SELECT t::text FROM "{tbl.name}" t'))
            else:
                rows = await conn.execute(text(f'SELECT * FROM "{tbl.name}"'))
            parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


def sqlite_bytes(url: str) -> bytes:
    path = Path(str(make_url(url).database))
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.exists())


def found(haystack: str | bytes) -> list[str]:
    if isinstance(haystack, bytes):
        return [p for p in PLAIN if p.encode() in haystack]
    return [p for p in PLAIN if p.lower() in haystack.lower()]


def run_cli(*args: str, keys_: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV: keys_, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV, raising=False)
    yield


# --- what is stored ---------------------------------------------------------------------------


async def test_a_referral_reads_back_but_the_database_holds_only_ciphertext(db, db_url):
    contact = await submitted_referral(db)
    async with db.transaction() as session:
        await accounts.add(session, username="quillofficer", display_name="Officer",
                           role="officer", password="Correct-Horse-9-battery", actor="cli",
                           now=utcnow())
        officer = await session.scalar(select(Officer).where(Officer.username == "quillofficer"))
        assert officer is not None
        secret = officer.totp_secret
        conv = await session.scalar(select(Conversation).where(Conversation.chat == "4401"))
        turns = list((await session.scalars(select(Turn))).all())
        consent = await session.scalar(select(ConsentRecord))

    # Through the application everything is as the person said it.
    assert contact.handover["children"][0]["name"] == CHILD
    assert contact.handover["address"]["line"] == STREET
    assert any(WORRY in t.text for t in turns)
    assert conv is not None and conv.contact_id == contact.id
    assert consent is not None and consent.sharing_limits == SHARING
    assert len(secret) == 32

    # In the database: tokens only, in every encrypted column that has rows.
    raw = await raw_rows(db)
    stored = [v for values in raw.values() for v in values]
    assert {name for name, values in raw.items() if values} >= {
        "conversations.state", "turns.text", "inbox.payload", "outbox.payload",
        "contacts.handover", "contacts.risk_evidence", "contacts.notes",
        "consent_records.sharing_limits", "audit_events.detail", "officers.totp_secret"}
    assert stored and all(v.startswith("gAAAAA") for v in stored)
    dump = await raw_dump(db)
    assert found(dump) == [] and secret not in dump and WORRY not in dump
    if not db.is_postgres:
        await db.dispose()
        assert found(sqlite_bytes(db_url)) == []


async def test_core_updates_and_nulls_go_through_the_column_types(db):
    message = Message("test", "77", Kind.TEXT, text=f"my name is {NAME}", external_id="x1")
    async with db.transaction() as session:
        item = InboxItem(channel="test", chat="77", external_id="x1", payload=message.to_json())
        session.add(item)
        await session.flush()
        await session.execute(update(InboxItem).where(InboxItem.id == item.id)
                              .values(payload={"processed": True, "note": NAME}))
        session.add(Turn(conversation_id=(await _conversation(session)).id, run=1,
                         direction="in", text="", analysis=None))
    async with db.transaction() as session:
        stored = await session.scalar(select(InboxItem.payload))
        turn = await session.scalar(select(Turn))
    assert stored == {"processed": True, "note": NAME}
    assert turn is not None and turn.analysis is None and turn.text == ""
    raw = await raw_rows(db)
    assert raw["inbox.payload"][0].startswith("gAAAAA") and raw["turns.analysis"] == []
    assert raw["turns.text"][0].startswith("gAAAAA")  # even "" is not told apart from words


async def _conversation(session: Any) -> Conversation:
    conv = Conversation(channel="test", chat="77", state={"name": NAME})
    session.add(conv)
    await session.flush()
    return conv


def test_sql_that_looks_inside_an_encrypted_column_is_refused() -> None:
    """A filter on ciphertext would silently match nothing; it fails where it is written."""
    for build in (lambda: InboxItem.payload == {"processed": True},
                  lambda: Conversation.state["step"], lambda: Contact.notes.contains("x"),
                  lambda: Contact.handover.desc()):
        with pytest.raises(TypeError, match="cannot be compared"):
            build()
    assert str(Turn.analysis.is_(None)) == "turns.analysis IS NULL"


async def test_models_match_the_migrations_for_every_encrypted_column(db):
    def diff(connection: Any) -> list[Any]:
        found_ = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [d for d in found_ if any(f"'{name.split('.')[1]}'" in repr(d)
                                         and f"'{name.split('.')[0]}'" in repr(d)
                                         for name in ENCRYPTED)]

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    assert "officers.totp_secret" in ENCRYPTED and "blocked_senders.reason" in ENCRYPTED


# --- keys: where they come from ---------------------------------------------------------------


async def test_sqlite_without_a_key_keeps_one_in_a_private_file_and_survives_a_restart(
        tmp_path, no_env_key, caplog):
    caplog.set_level(logging.INFO, logger="frontdoor.crypto")
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'frontdoor.sqlite3'}"
    await asyncio.to_thread(upgrade_sync, url)  # an empty database needs no key yet
    first = Database(url)
    async with first.transaction() as session:
        session.add(Conversation(channel="test", chat="9", state={"child": CHILD}))
    await first.dispose()

    key_file = tmp_path / "data" / "frontdoor.keys"
    assert key_file == key_file_for(str(tmp_path / "data" / "frontdoor.sqlite3"))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [key] = [line for line in key_file.read_text().splitlines() if not line.startswith("#")]

    again = Database(url)  # as after a restart
    async with again.transaction() as session:
        conv = await session.scalar(select(Conversation))
    await again.dispose()
    assert conv is not None and conv.state == {"child": CHILD}
    assert found(sqlite_bytes(url)) == []
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert f"using the local key file {key_file}" in logs
    assert key not in logs


def test_processes_starting_together_share_one_key_file(tmp_path, no_env_key) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite+aiosqlite:///{tmp_path / 'together.sqlite3'}"
    with ThreadPoolExecutor(8) as pool:
        rings = list(pool.map(lambda _: keyring_for(url), range(16)))
    token = rings[0].encrypt(NAME.encode())
    assert all(r.decrypt(token) == NAME.encode() for r in rings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["together.keys"]


def test_postgres_without_a_key_refuses_with_the_exact_message(no_env_key) -> None:
    with pytest.raises(DataKeyError) as refused:
        keyring_for("postgresql+asyncpg://postgres@127.0.0.1/anything")
    assert str(refused.value) == MISSING_ON_POSTGRES


def test_a_malformed_key_is_named_by_position_never_echoed(monkeypatch) -> None:
    bad = "not-a-real-key-" + "x" * 20
    monkeypatch.setenv(ENV, f"{Fernet.generate_key().decode()}, {bad}")
    with pytest.raises(DataKeyError) as refused:
        keyring_for("sqlite+aiosqlite:///unused.sqlite3")
    assert str(refused.value).startswith("Entry 2 of FRONTDOOR_DATA_KEYS is not a data key")
    assert bad not in str(refused.value)


def test_frontdoor_run_on_postgres_without_a_key_refuses_to_start(pg_template) -> None:
    url = pg_template.copy()
    try:
        result = run_cli("run", keys_="", url=url)
    finally:
        pg_template.drop(url)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"frontdoor: {MISSING_ON_POSTGRES}")
    assert "Traceback" not in result.stderr


# --- a wrong key ------------------------------------------------------------------------------


async def test_a_wrong_key_gives_the_operator_an_exact_error_without_data(db, db_url):
    await submitted_referral(db)
    wrong = Fernet.generate_key().decode()
    other = Database(db_url, keyring=keyring(wrong))
    try:
        with pytest.raises(DataKeyError) as refused:
            async with other.transaction() as session:
                await session.scalar(select(Contact))
        assert str(refused.value) == unreadable_message("the test keys")
        with pytest.raises(DataKeyError, match=r"^The newest value in \w+\.\w+ cannot be "):
            await keys.verify_sample(other)
    finally:
        await other.dispose()
    await keys.verify_sample(db)  # the right key passes the start-up check

    await db.dispose()
    result = await asyncio.to_thread(run_cli, "run", keys_=wrong, url=db_url)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("frontdoor: The newest value in ")
    assert "cannot be decrypted with the keys from FRONTDOOR_DATA_KEYS" in last
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr + result.stdout and found(result.stderr) == []


# --- rotation ---------------------------------------------------------------------------------


async def test_rotation_through_the_cli_then_the_old_key_can_go(db, db_url):
    contact = await submitted_referral(db)
    await db.dispose()
    new = Fernet.generate_key().decode()

    generated = await asyncio.to_thread(run_cli, "keys", "generate", keys_="", url=db_url)
    assert generated.returncode == 0
    assert len(parse_keys(generated.stdout, "output")) == 1 and "first" in generated.stderr

    rotated = await asyncio.to_thread(run_cli, "keys", "rotate", "--batch", "7",
                                      keys_=f"{new},{TEST_DATA_KEY}", url=db_url)
    assert rotated.returncode == 0, rotated.stderr
    lines = dict(line.split(": ", 1) for line in rotated.stdout.splitlines() if ": " in line)
    assert set(lines) == set(ENCRYPTED)
    assert lines["contacts.handover"] == "1 re-encrypted, 0 already on the newest key"
    turns_moved = int(lines["turns.text"].split()[0])
    assert turns_moved > 7  # more than one batch
    assert new not in rotated.stdout + rotated.stderr
    assert TEST_DATA_KEY not in rotated.stdout + rotated.stderr

    again = await asyncio.to_thread(run_cli, "keys", "rotate", keys_=f"{new},{TEST_DATA_KEY}",
                                    url=db_url)
    assert again.returncode == 0
    assert "turns.text: 0 re-encrypted, " + str(turns_moved) + " already" in again.stdout

    checked = await asyncio.to_thread(run_cli, "keys", "check", keys_=new, url=db_url)
    assert checked.returncode == 0, checked.stderr
    assert "every value can be read and is under the newest key" in checked.stdout

    only_new = Database(db_url, keyring=keyring(new))
    try:
        async with only_new.transaction() as session:
            row = await session.scalar(select(Contact).where(Contact.id == contact.id))
        assert row is not None and row.handover == contact.handover
        assert found(await raw_dump(only_new)) == []
    finally:
        await only_new.dispose()

    old_only = Database(db_url, keyring=keyring(TEST_DATA_KEY))
    try:
        with pytest.raises(DataKeyError):
            async with old_only.transaction() as session:
                await session.scalar(select(Contact))
    finally:
        await old_only.dispose()
    stale = await asyncio.to_thread(run_cli, "keys", "check", keys_=TEST_DATA_KEY, url=db_url)
    assert stale.returncode == 1
    assert "contacts.handover: 0 on the newest key, 0 on an older key, 1 unreadable" in (
        stale.stdout)
    assert "contacts.handover: 1 unreadable (row ids " in stale.stderr


async def test_rotation_never_undoes_a_write_made_while_it_runs(db):
    """A value rewritten between rotate's read and its write keeps the newer write."""
    async with db.transaction() as session:
        conv = Conversation(channel="test", chat="88", state={"v": 1})
        session.add(conv)
    tbl = Conversation.__table__
    raw = keys.raw_table(tbl, tbl.c.state)  # type: ignore[arg-type]
    async with db.engine.connect() as conn:
        stale = (await conn.execute(select(raw.c.state))).scalar_one()
    async with db.transaction() as session:  # the service answers a turn meanwhile
        row = await session.get(Conversation, conv.id)
        assert row is not None
        row.state = {"v": 2}
    async with db.transaction() as session:
        await keys.replace(session, raw, "state", [
            {"row_id": conv.id, "old": stale, "new": db.keyring.rotate(stale)}])
    async with db.transaction() as session:
        row = await session.get(Conversation, conv.id)
    assert row is not None and row.state == {"v": 2}


# --- the migration ----------------------------------------------------------------------------


async def test_migration_encrypts_an_existing_plaintext_database_and_back(db, db_url):
    contact = await submitted_referral(db)
    async with db.transaction() as session:
        officer_enrolment = await accounts.add(
            session, username="migr", display_name="M", role="officer",
            password="Correct-Horse-9-battery", actor="cli", now=utcnow())
    await db.dispose()
    cfg = alembic_config(db_url)

    await asyncio.to_thread(command.downgrade, cfg, "0004")  # decrypts: a 0004 database
    plain = Database(db_url)
    async with plain.engine.connect() as conn:
        state = (await conn.execute(text("SELECT state FROM conversations"))).scalar_one()
        handover = (await conn.execute(text("SELECT handover FROM contacts"))).scalar_one()
        totp = (await conn.execute(text("SELECT totp_secret FROM officers"))).scalar_one()
        if plain.is_postgres:
            kind = (await conn.execute(text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'contacts' AND column_name = 'handover'"))).scalar_one()
            assert kind == "jsonb"
    await plain.dispose()
    handover = handover if isinstance(handover, dict) else json.loads(handover)
    assert handover == contact.handover and totp == officer_enrolment.totp_secret
    assert NAME in json.dumps(state, ensure_ascii=False)

    await asyncio.to_thread(command.upgrade, cfg, "0005")  # encrypts the plaintext rows
    after = Database(db_url)
    try:
        raw = await raw_rows(after)
        assert all(v.startswith("gAAAAA") for values in raw.values() for v in values)
        assert found(await raw_dump(after)) == []
        async with after.transaction() as session:
            row = await session.scalar(select(Contact))
            officer = await session.scalar(select(Officer))
        assert row is not None and row.handover == contact.handover
        assert officer is not None and officer.totp_secret == officer_enrolment.totp_secret
    finally:
        await after.dispose()
    if not db_url.startswith("postgresql"):
        assert found(sqlite_bytes(db_url)) == []  # no plaintext left in freed pages


# --- logs ---------------------------------------------------------------------------------------


async def test_the_bot_process_never_logs_a_data_key(db_url, fake, tmp_path):
    """PostgreSQL with the key in the environment. SQLite as the README starts it on a fresh
    machine: no key set, no database yet; a key file is made and a restart reads the data."""
    sqlite = not db_url.startswith("postgresql")
    if sqlite:
        db_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'frontdoor.sqlite3'}"
    env = {ENV: "" if sqlite else TEST_DATA_KEY, "FRONTDOOR_LOG_LEVEL": "DEBUG"}
    user = TelegramUser(fake, 6161)
    for start in range(2):
        process = BotProcess(db_url, fake.base_url, tmp_path / "bot.log", **env)
        await process.start()
        try:
            if start == 0:
                await user.command("start")
                await user.click("start")
                await user.click("parent_carer")
                await user.say(NAME)
            else:  # after a restart the conversation carries on where it was
                replies = await user.click("mother")
                assert replies and "Traceback" not in process.log()
        finally:
            await process.stop()
    log = process.log_path.read_text(errors="replace")
    key = TEST_DATA_KEY
    if sqlite:
        key_file = tmp_path / "data" / "frontdoor.keys"
        [key] = [k.decode() for k in parse_keys(key_file.read_text(), "file")]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert log.count("generated a new local key file") == 1
        assert log.count(f"using the local key file {key_file}") == 2  # once per start
        assert found(sqlite_bytes(db_url)) == []
    assert key not in log and NAME not in log
    check = Database(db_url, keyring=keyring(key))
    try:
        async with check.transaction() as session:
            conv = await session.scalar(select(Conversation).where(Conversation.chat == "6161"))
        assert conv is not None
        assert NAME in json.dumps(conv.state, ensure_ascii=False) and "mother" in json.dumps(
            conv.state)
    finally:
        await check.dispose()
