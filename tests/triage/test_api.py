"""REST API: bearer tokens with scopes, filters, audited reads, take-next, outcome, reply."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from profiles import load_profile
from storage.db import Database
from storage.models import AuditEvent, OutboxItem
from tests.triage.conftest import add_contact, add_token
from triage import openapi
from triage.web import api_app

Client = TestClient[Any, Any]
ALL = ["contacts:read", "contacts:write", "figures:read"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_and_scopes(client: Client, sqlite_db: Database) -> None:
    reader = await add_token(sqlite_db, "reader", ["contacts:read"])
    assert (await client.get("/api/contacts")).status == 401
    bad = await client.get("/api/contacts", headers=_auth("fdt_nope"))
    assert bad.status == 401
    assert (await bad.json()) == {"error": "The API token is unknown, revoked or expired."}
    assert (await client.get("/api/contacts", headers=_auth(reader))).status == 200
    denied = await client.post("/api/contacts/take-next", headers=_auth(reader))
    assert denied.status == 403
    assert (await denied.json())["error"] == "This token does not have the contacts:write scope."
    assert (await client.get("/api/openapi.json")).status == 200


async def test_list_filter_get_and_audit(client: Client, sqlite_db: Database) -> None:
    token = await add_token(sqlite_db, "cms", ALL)
    red = await add_contact(sqlite_db, urgency="immediate", rag="red", locality="north")
    await add_contact(sqlite_db, rag="green", locality="south_east")
    listed = await (await client.get("/api/contacts?locality=north",
                                     headers=_auth(token))).json()
    assert [c["reference"] for c in listed["contacts"]] == [red.reference]
    assert listed["contacts"][0]["sla"]["band"] == "red"
    bad = await client.get("/api/contacts?urgency=panic", headers=_auth(token))
    assert bad.status == 400
    one = await client.get(f"/api/contacts/{red.reference.lower()}", headers=_auth(token))
    body = await one.json()
    assert body["reference"] == red.reference and "handover" in body
    async with sqlite_db.transaction() as session:
        views = (await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "view", AuditEvent.contact_id == red.id))).all()
    assert [(v.actor, v.detail) for v in views] == [("api:cms", {"page": "api"})]
    missing = await client.get("/api/contacts/SFH-NOPE22", headers=_auth(token))
    assert missing.status == 404


async def test_take_outcome_reply(client: Client, sqlite_db: Database) -> None:
    token = await add_token(sqlite_db, "cms", ALL)
    contact = await add_contact(sqlite_db, urgency="urgent", rag="red", chat="555",
                                language="ar")
    taken = await client.post("/api/contacts/take-next", headers=_auth(token))
    assert taken.status == 200
    assert (await taken.json())["claimed_by"] == "api:cms"
    empty = await client.post("/api/contacts/take-next", headers=_auth(token))
    assert empty.status == 204
    ref = contact.reference
    refused = await client.post(f"/api/contacts/{ref}/outcome", headers=_auth(token),
                                json={"close": True})
    assert refused.status == 400
    done = await client.post(f"/api/contacts/{ref}/outcome", headers=_auth(token), json={
        "category": "child_mental_health", "rag": "amber", "outcome": "progress_to_send",
        "close": True})
    assert done.status == 200, await done.text()
    assert (await done.json())["status"] == "closed"
    reply = await client.post(f"/api/contacts/{ref}/reply", headers=_auth(token),
                              json={"template": "progress_to_send"})
    assert reply.status == 202
    async with sqlite_db.transaction() as session:
        item = await session.scalar(select(OutboxItem))
    assert item is not None and item.chat == "555"
    assert item.payload["flags"] == ["hub_reply"]
    nul = await client.post(f"/api/contacts/{ref}/reply", headers=_auth(token),
                            json={"text": "a\u0000b"})
    assert nul.status == 202  # NUL characters are dropped, not stored and not a 500


def test_openapi_documents_every_route() -> None:
    from unittest.mock import MagicMock

    app = api_app(MagicMock())
    implemented = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        implemented.add((route.method.lower(), "/api" + path))
    documented = {(method, path) for path, ops in
                  openapi.document(load_profile("hillingdon"))["paths"].items()
                  for method in ops}
    assert implemented - {("head", p) for _, p in implemented} == documented
