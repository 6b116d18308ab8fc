"""A small round-robin reverse proxy on loopback, in front of several `frontdoor run` workers.

It behaves like an ordinary load balancer: each request goes to the next worker; a worker that
refuses the connection (dead) is skipped for the next one; a worker that drops a request it
was handed gets the caller a 502, and the caller (Telegram, or the fake) retries. It can also
fail a share of requests with 502 itself, for webhook-delivery storms, or drop a worker's
answer after the worker handled the request (so the caller sends the same update again).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.botproc import free_port

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
}


@dataclass
class Forwarded:
    """One request as the proxy saw it (update_id when it was a Telegram webhook)."""

    backend: int | None
    path: str
    status: int
    update_id: int | None
    lost: bool = False  # the worker answered, but the answer never reached the caller


@dataclass
class RoundRobinProxy:
    backends: list[int]  # worker ports
    port: int = field(default_factory=free_port)
    fail_ratio: float = 0.0
    lose_responses: int = 0  # the next N answers are dropped after the worker handled them
    seed: int = 7
    log: list[Forwarded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._turn = itertools.count()
        self._rng = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> RoundRobinProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def replace_backend(self, old: int, new: int) -> None:
        self.backends[self.backends.index(old)] = new

    def served(self, update_id: int) -> list[Forwarded]:
        return [f for f in self.log if f.update_id == update_id]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        update_id = _update_id(body)
        if self.fail_ratio and self._rng.random() < self.fail_ratio:
            self.log.append(Forwarded(None, request.path, 502, update_id))
            return web.Response(status=502, text="storm")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        start = next(self._turn)
        for n in range(len(self.backends)):
            backend = self.backends[(start + n) % len(self.backends)]
            url = f"http://127.0.0.1:{backend}{request.path_qs}"
            try:
                async with self._http.request(
                    request.method, url, data=body, headers=headers
                ) as resp:
                    payload = await resp.read()
                    if self.lose_responses > 0:
                        self.lose_responses -= 1
                        self.log.append(
                            Forwarded(backend, request.path, resp.status, update_id, lost=True)
                        )
                        return web.Response(status=502, text="the answer was lost")
                    self.log.append(Forwarded(backend, request.path, resp.status, update_id))
                    out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
                    return web.Response(status=resp.status, body=payload, headers=out)
            except aiohttp.ClientConnectorError:
                continue  # nobody listening there: try the next worker, like nginx does
            except (aiohttp.ClientError, TimeoutError):
                # The worker took the request and died (or hung): the caller must retry.
                self.log.append(Forwarded(backend, request.path, 502, update_id))
                return web.Response(status=502, text="upstream dropped the request")
        self.log.append(Forwarded(None, request.path, 502, update_id))
        return web.Response(status=502, text="no worker is up")


def _update_id(body: bytes) -> int | None:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    return data.get("update_id") if isinstance(data, dict) else None
