"""Optional Rasa backend for the intent (``NLU_BACKEND=rasa``, ``RASA_URL``).

A council that runs its own Rasa server can let it classify the intent. Safety never
depends on the network: risk, entities and level are always computed locally, and any
error, timeout or unknown intent falls back to the local model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from nlu.types import INTENTS, Analysis, Intent

if TYPE_CHECKING:
    from nlu.pipeline import Analyser

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 0.8  # seconds: a chat reply must not wait on a slow server
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class RasaIntent:
    name: str
    confidence: float


class RasaClient:
    """Calls ``POST {url}/model/parse``. Reuse one client (and its connection pool) for the
    life of the engine and ``await client.close()`` at shutdown."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                 token: str | None = None) -> None:
        self.url = url.rstrip("/") + "/model/parse"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.params = {"token": token} if token else None
        self._session: aiohttp.ClientSession | None = None

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def parse(self, text: str) -> RasaIntent | None:
        """The top intent, or None on any failure (logged without the message text)."""
        try:
            session = await self._get_session()
            async with session.post(self.url, json={"text": text}, params=self.params) as resp:
                resp.raise_for_status()
                body: Any = await resp.json(content_type=None)
            intent = body.get("intent") or {}
            return RasaIntent(str(intent["name"]), float(intent.get("confidence") or 0.0))
        except (TimeoutError, aiohttp.ClientError, KeyError, TypeError, ValueError,
                AttributeError) as exc:
            log.warning("rasa backend unavailable (%s); using the local model",
                        type(exc).__name__)
            return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def backend_from_env() -> RasaClient | None:
    if os.environ.get("NLU_BACKEND", "local").lower() != "rasa":
        return None
    url = os.environ.get("RASA_URL", "http://localhost:5005")
    timeout = float(os.environ.get("RASA_TIMEOUT", DEFAULT_TIMEOUT))
    return RasaClient(url, timeout, os.environ.get("RASA_TOKEN"))


def map_intent(found: RasaIntent | None) -> Intent | None:
    """Our intent for Rasa's answer, or None to keep the local one."""
    if found is None or found.confidence < MIN_CONFIDENCE:
        return None
    name = found.name.removeprefix("intent_")
    for intent in INTENTS:
        if intent == name:
            return intent
    return None


async def analyse_with_backend(analyser: Analyser, text: str, language_hint: str | None,
                               client: RasaClient | None = None) -> Analysis:
    """Local analysis, with the intent from Rasa when a backend is configured."""
    own = client is None
    client = client or backend_from_env()
    if client is None:
        return analyser.analyse(text, language_hint)
    try:
        override = map_intent(await client.parse(text))
    finally:
        if own:
            await client.close()
    return analyser.analyse(text, language_hint, intent_override=override)
