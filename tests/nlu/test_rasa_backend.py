"""The optional Rasa backend, against a local HTTP server that answers exactly like Rasa
3.6's ``POST /model/parse``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import nlu
from nlu.rasa import RasaClient, analyse_with_backend, map_intent


def rasa_response(text: str, intent: str, confidence: float) -> dict[str, Any]:
    """The body Rasa 3.6 returns (no entity extractor configured)."""
    others = [n for n in ("advice", "other", "self_referral") if n != intent]
    ranking = [{"id": -1234567890, "name": intent, "confidence": confidence}] + [
        {"id": 100 + i, "name": n, "confidence": (1 - confidence) / len(others)}
        for i, n in enumerate(others)]
    return {
        "text": text,
        "intent": {"id": -1234567890, "name": intent, "confidence": confidence},
        "entities": [],
        "text_tokens": [[0, len(text)]],
        "intent_ranking": ranking,
        "response_selector": {
            "all_retrieval_intents": [],
            "default": {
                "response": {"responses": None, "confidence": 0.0, "intent_response_key": None,
                             "utter_action": "utter_None"},
                "ranking": [],
            },
        },
    }


class FakeRasa:
    def __init__(self) -> None:
        self.intent = "advice"
        self.confidence = 0.93
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []

    async def parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"version": "3.6.20", "status": "failure",
                                      "message": "boom", "code": self.status},
                                     status=self.status)
        return web.json_response(rasa_response(body["text"], self.intent, self.confidence))


@pytest.fixture
async def rasa_server() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post("/model/parse", fake.parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_intent_comes_from_rasa(rasa_server: tuple[FakeRasa, str]) -> None:
    fake, url = rasa_server
    fake.intent = "professional_query"
    client = RasaClient(url, timeout=2.0)
    try:
        result = await analyse_with_backend(nlu._DEFAULT, "my son won't go to school", "en",
                                            client)
    finally:
        await client.close()
    assert fake.requests == [{"text": "my son won't go to school"}]
    assert result.intent == "professional_query"  # local model would say self_referral
    assert result.risk == "concern"  # risk is always local


async def test_env_configured_backend(rasa_server: tuple[FakeRasa, str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = rasa_server
    fake.intent = "advice"
    monkeypatch.setenv("NLU_BACKEND", "rasa")
    monkeypatch.setenv("RASA_URL", url)
    result = await nlu.analyse_async("hello there")
    assert result.intent == "advice"
    assert len(fake.requests) == 1


async def test_local_when_backend_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NLU_BACKEND", raising=False)
    assert (await nlu.analyse_async("hello")).intent == "other"


@pytest.mark.parametrize("failure", ["status", "timeout", "low_confidence", "unknown_intent"])
async def test_falls_back_to_local_model(rasa_server: tuple[FakeRasa, str],
                                         failure: str) -> None:
    fake, url = rasa_server
    if failure == "status":
        fake.status = 500
    elif failure == "timeout":
        fake.delay = 1.0
    elif failure == "low_confidence":
        fake.confidence = 0.2
    else:
        fake.intent = "greet"
    client = RasaClient(url, timeout=0.2)
    try:
        result = await analyse_with_backend(nlu._DEFAULT, "hello", None, client)
    finally:
        await client.close()
    assert result.intent == "other"  # what the local model says


async def test_unreachable_server_falls_back() -> None:
    client = RasaClient("http://127.0.0.1:9", timeout=0.2)
    try:
        result = await analyse_with_backend(nlu._DEFAULT, "how do I apply for free school meals",
                                            "en", client)
    finally:
        await client.close()
    assert result.intent == "advice"


async def test_danger_is_an_emergency_whatever_rasa_says(
        rasa_server: tuple[FakeRasa, str]) -> None:
    fake, url = rasa_server
    fake.intent = "other"
    client = RasaClient(url, timeout=2.0)
    try:
        result = await analyse_with_backend(nlu._DEFAULT, "help he is strangling my mum now",
                                            "en", client)
    finally:
        await client.close()
    assert result.risk == "immediate" and result.intent == "emergency"


def test_map_intent() -> None:
    from nlu.rasa import RasaIntent

    assert map_intent(RasaIntent("advice", 0.9)) == "advice"
    assert map_intent(RasaIntent("intent_emergency", 0.9)) == "emergency"
    assert map_intent(RasaIntent("greet", 0.99)) is None
    assert map_intent(RasaIntent("advice", 0.1)) is None
    assert map_intent(None) is None


def test_fake_matches_rasa_shape() -> None:
    body = rasa_response("hi", "other", 0.9)
    assert set(body) == {"text", "intent", "entities", "text_tokens", "intent_ranking",
                         "response_selector"}
    json.dumps(body)
