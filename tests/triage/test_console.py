"""The officer console over HTTP: sign-in with 2FA, lockout, CSRF, roles, XSS, audit, replies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from flows.events import CONTACT_RED, OUTBOX, EventBus
from flows.types import Reply
from storage.db import Database
from storage.models import AuditEvent, Contact, OutboxItem
from tests.triage.conftest import (
    add_contact,
    add_officer,
    csrf_from,
    login,
)

Client = TestClient[Any, Any]
XSS = ('<script>alert("pwned")</script> **bold** [click](javascript:alert(1)) '
       "<img src=x onerror=alert(2)>")


async def _events(db: Database, action: str | None = None) -> list[AuditEvent]:
    async with db.transaction() as session:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        return list((await session.scalars(stmt)).all())


async def test_sign_in_needs_password_and_code(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "alice")
    page = await client.get("/console/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/console/login")
    await login(client, officer)
    queue = await client.get("/console/")
    assert queue.status == 200
    assert "Take next contact" in await queue.text()
    assert [e.action for e in await _events(sqlite_db, "login")] == ["login"]


async def test_session_cookie_flags(sqlite_db: Database, bus: EventBus) -> None:
    from aiohttp.test_utils import TestServer

    from tests.triage.conftest import make_app
    from triage import web as triage_web

    officer = await add_officer(sqlite_db, "alice")
    app = make_app(sqlite_db, bus)
    async with TestClient(TestServer(app)) as c:
        page = await c.get("/console/login")
        token = csrf_from(await page.text())
        response = await c.post("/console/login", allow_redirects=False, data={
            "username": "alice", "password": officer.password, "csrf_token": token})
        cookie = response.headers.getall("Set-Cookie")
        session = next(h for h in cookie if h.startswith("fd_session="))
        assert "HttpOnly" in session and "SameSite=Strict" in session
        assert "Path=/console" in session
    assert triage_web.cookie_secure_from_env() is True  # Secure unless switched off


async def test_wrong_code_and_lockout(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "bob")
    for attempt in range(5):
        page = await client.get("/console/login")
        response = await client.post("/console/login", data={
            "username": "bob", "password": "Wrong-password-1!",
            "csrf_token": csrf_from(await page.text())})
        assert response.status == 401
        body = await response.text()
        if attempt < 4:
            assert "The username or password is wrong." in body
        else:
            assert "This account is locked after 5 failed sign-in attempts." in body
    page = await client.get("/console/login")
    response = await client.post("/console/login", data={
        "username": "bob", "password": officer.password,
        "csrf_token": csrf_from(await page.text())})
    assert response.status == 401
    assert "This account is locked" in await response.text()
    assert len(await _events(sqlite_db, "account_locked")) == 1


async def test_unknown_user_gets_the_same_message(client: Client) -> None:
    page = await client.get("/console/login")
    response = await client.post("/console/login", data={
        "username": "nobody", "password": "Whatever-12345!",
        "csrf_token": csrf_from(await page.text())})
    assert response.status == 401
    assert "The username or password is wrong." in await response.text()


async def test_a_code_works_once(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "carol")
    await login(client, officer)
    client.session.cookie_jar.clear()
    page = await client.get("/console/login")
    response = await client.post("/console/login", data={
        "username": "carol", "password": officer.password,
        "csrf_token": csrf_from(await page.text())})
    response = await client.post("/console/2fa", data={
        "code": officer.code(), "csrf_token": csrf_from(await response.text())})
    assert response.status == 401
    assert "already been used" in await response.text()


async def test_forged_csrf_is_refused(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "dave")
    contact = await add_contact(sqlite_db)
    token = await login(client, officer)
    forged = await client.post("/console/take-next", data={"csrf_token": "forged"})
    assert forged.status == 403
    assert "did not come from the console" in await forged.text()
    missing = await client.post(f"/console/contacts/{contact.reference}/claim", data={})
    assert missing.status == 403
    cross_site = await client.post("/console/take-next", data={"csrf_token": token},
                                   headers={"Origin": "https://evil.example"})
    assert cross_site.status == 403
    async with sqlite_db.transaction() as session:
        row = await session.get(Contact, contact.id)
        assert row is not None and row.status == "new"
    ok = await client.post("/console/take-next", data={"csrf_token": token})
    assert ok.status == 200 and contact.reference in str(ok.url)


async def test_login_form_needs_its_csrf_cookie(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "erin")
    response = await client.post("/console/login", data={
        "username": "erin", "password": officer.password, "csrf_token": "guess"})
    assert response.status == 403


@pytest.mark.parametrize(("role", "path", "allowed"), [
    ("officer", "/console/admin/officers", False),
    ("officer", "/console/admin/tokens", False),
    ("officer", "/console/figures", False),
    ("officer", "/console/audit", False),
    ("officer", "/console/handover", True),
    ("manager", "/console/figures", True),
    ("manager", "/console/figures.csv", True),
    ("manager", "/console/audit", True),
    ("manager", "/console/admin/officers", False),
    ("admin", "/console/admin/officers", True),
    ("admin", "/console/admin/tokens", True),
])
async def test_role_gating(client: Client, sqlite_db: Database, role: str, path: str,
                           allowed: bool) -> None:
    officer = await add_officer(sqlite_db, f"{role}1", role=role)
    await login(client, officer)
    response = await client.get(path)
    if allowed:
        assert response.status == 200
    else:
        assert response.status == 403
        assert f"You need the {(path.split('/')[2] == 'admin' and 'admin') or 'manager'} role" \
            in await response.text()
        denied = await _events(sqlite_db, "access_denied")
        assert denied and denied[-1].actor == officer.username


async def test_officer_cannot_post_admin_forms(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "frank")
    token = await login(client, officer)
    response = await client.post("/console/admin/officers", data={
        "csrf_token": token, "username": "mallory", "role": "admin",
        "password": "Sneaky-Password-1!"})
    assert response.status == 403
    response = await client.post("/console/admin/officers/frank/role", data={
        "csrf_token": token, "role": "admin"})
    assert response.status == 403


async def test_parent_script_is_inert(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "gina")
    contact = await add_contact(
        sqlite_db, urgency="urgent", rag="red",
        handover={"sections": [{"id": "what", "title": "What is happening " + XSS,
                                "answers": [{"question": "Tell us " + XSS, "answer": XSS}]}],
                  "risk": {"level": "urgent", "evidence": [{"phrase": XSS, "language": "en"}]},
                  XSS: {XSS: XSS}},
        notes=XSS,
    )
    await login(client, officer)
    page = await client.get(f"/console/contacts/{contact.reference}")
    html = await page.text()
    assert page.status == 200
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    transcript = await client.get(f"/console/contacts/{contact.reference}/print")
    assert "<script>alert" not in await transcript.text()


async def test_every_contact_view_is_audited(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "hana")
    contact = await add_contact(sqlite_db)
    await login(client, officer)
    paths = ["", "/transcript", "/print", "/handover.pdf"]
    for suffix in paths:
        response = await client.get(f"/console/contacts/{contact.reference}{suffix}")
        assert response.status == 200, suffix
    pdf = await client.get(f"/console/contacts/{contact.reference}/handover.pdf")
    assert (await pdf.read()).startswith(b"%PDF")
    async with sqlite_db.transaction() as session:
        events = list((await session.scalars(
            select(AuditEvent).where(AuditEvent.contact_id == contact.id)
            .order_by(AuditEvent.id))).all())
    views = [(e.actor, e.action, e.detail.get("page")) for e in events]
    assert views == [
        ("hana", "view", "contact"), ("hana", "view_transcript", None),
        ("hana", "view", "print"), ("hana", "view", "pdf"), ("hana", "view", "pdf"),
    ]


async def test_take_record_reply_close_on_postgresql(pg_db: Database) -> None:
    """The same officer journey with the console on PostgreSQL."""
    from aiohttp.test_utils import TestServer

    from tests.triage.conftest import make_app

    bus = EventBus()
    async with TestClient(TestServer(make_app(pg_db, bus))) as pg_client:
        await test_take_record_reply_close(pg_client, pg_db, bus)


async def test_take_record_reply_close(client: Client, sqlite_db: Database,
                                       bus: EventBus) -> None:
    woken: list[dict[str, Any]] = []

    async def on_outbox(event: dict[str, Any]) -> None:
        woken.append(event)

    bus.subscribe(OUTBOX, on_outbox)
    officer = await add_officer(sqlite_db, "ivan")
    await add_contact(sqlite_db, rag="amber", age_minutes=60)
    red = await add_contact(sqlite_db, urgency="immediate", rag="red", language="pl",
                            chat="777")
    token = await login(client, officer)
    taken = await client.post("/console/take-next", data={"csrf_token": token})
    assert str(taken.url).endswith(f"/console/contacts/{red.reference}")
    html = await taken.text()
    token = csrf_from(html)
    saved = await client.post(f"/console/contacts/{red.reference}/triage", data={
        "csrf_token": token, "category": "domestic_violence", "rag": "red",
        "outcome": "send_to_mash", "notes": "Called back.", "action": "save"})
    assert saved.status == 200 and "Saved." in await saved.text()
    replied = await client.post(f"/console/contacts/{red.reference}/reply", data={
        "csrf_token": token, "template": "send_to_mash", "text": "We will call you today."})
    assert replied.status == 200, await replied.text()
    assert "Your reply is on its way" in await replied.text()
    closed = await client.post(f"/console/contacts/{red.reference}/triage", data={
        "csrf_token": token, "action": "close"})
    assert closed.status == 200 and "The contact is closed." in await closed.text()
    async with sqlite_db.transaction() as session:
        items = list((await session.scalars(select(OutboxItem))).all())
        row = await session.get(Contact, red.id)
    assert len(items) == 1
    item = items[0]
    assert (item.channel, item.chat, item.contact_id) == ("telegram", "777", red.id)
    reply = Reply.from_json(item.payload)
    assert "hub_reply" in item.payload["flags"]
    assert "We will call you today." in reply.text and red.reference in reply.text
    assert row is not None and row.status == "closed" and row.outcome == "send_to_mash"
    assert row.handover["triage"]["replies"][0]["text"] == reply.text
    assert row.handover["triage"]["last_reply"].endswith("We will call you today.")
    assert "Message from the" not in row.handover["triage"]["last_reply"]
    await asyncio.sleep(0.05)
    assert {"channel": "telegram"} in woken
    replies = await _events(sqlite_db, "reply")
    assert replies and replies[0].detail["text"] == reply.text


async def test_cannot_record_on_a_contact_someone_else_holds(client: Client,
                                                             sqlite_db: Database) -> None:
    first = await add_officer(sqlite_db, "jo")
    contact = await add_contact(sqlite_db)
    async with sqlite_db.transaction() as session:
        from storage.types import utcnow
        from triage import queue

        await queue.claim(session, contact.reference, actor="someone", now=utcnow(),
                          profile=__import__("profiles").load_profile("hillingdon"))
    token = await login(client, first)
    response = await client.post(f"/console/contacts/{contact.reference}/triage", data={
        "csrf_token": token, "rag": "green", "action": "save"})
    assert response.status == 409
    assert f"{contact.reference} is held by someone until" in await response.text()


async def test_sse_pushes_red_contacts(client: Client, sqlite_db: Database,
                                       bus: EventBus) -> None:
    officer = await add_officer(sqlite_db, "kim")
    await login(client, officer)
    response = await client.get("/console/events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    await response.content.readuntil(b"\n\n")  # retry + connected comment
    bus.emit(CONTACT_RED, {"contact_id": 1, "reference": "SFH-ABC234", "urgency": "immediate",
                           "locality": "north", "language": "pl"})
    chunk = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 1.0)
    assert chunk.startswith(b"event: red\n")
    data = json.loads(chunk.decode().split("data: ", 1)[1])
    assert data == {"reference": "SFH-ABC234", "urgency": "immediate",
                    "locality": "North – Ruislip & Northwood", "language": "pl"}
    response.close()


async def test_password_change_enforces_policy(client: Client, sqlite_db: Database) -> None:
    officer = await add_officer(sqlite_db, "lee")
    token = await login(client, officer)
    reused = await client.post("/console/account/password", data={
        "csrf_token": token, "current": officer.password, "new": officer.password,
        "confirm": officer.password})
    assert reused.status == 400
    assert "different from your current and previous passwords" in await reused.text()
    weak = await client.post("/console/account/password", data={
        "csrf_token": token, "current": officer.password, "new": "short", "confirm": "short"})
    assert "at least 12 characters" in await weak.text()
    ok = await client.post("/console/account/password", data={
        "csrf_token": token, "current": officer.password, "new": "Another-Good-Pass-7",
        "confirm": "Another-Good-Pass-7"})
    assert ok.status == 200 and "Your password has been changed." in await ok.text()


async def test_reports_render(client: Client, sqlite_db: Database) -> None:
    manager = await add_officer(sqlite_db, "mia", role="manager")
    await add_contact(sqlite_db, age_minutes=60 * 10, category="domestic_violence")
    await login(client, manager)
    for path in ("/console/handover", "/console/figures", "/console/audit",
                 "/console/?view=mine", "/console/?view=closed", "/console/queue/rows"):
        response = await client.get(path)
        assert response.status == 200, path
    pdf = await client.get("/console/handover.pdf")
    assert (await pdf.read()).startswith(b"%PDF")
    csv = await client.get("/console/figures.csv")
    assert (await csv.text()).startswith("section,key,label,value")
    bad = await client.get("/console/figures?from=2025-02-01&to=2025-01-01")
    assert bad.status == 400
    assert "The start date must be on or before the end date." in await bad.text()
