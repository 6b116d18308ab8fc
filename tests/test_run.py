"""`frontdoor run` as the README starts it: embedded SQLite, web chat and console, no Telegram."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.botproc import BotProcess

pytestmark = pytest.mark.slow


async def test_run_serves_health_web_chat_and_console_without_telegram(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/data/frontdoor.sqlite3"
    process = BotProcess(url, "http://127.0.0.1:9", tmp_path / "run.log",
                         TELEGRAM_BOT_TOKEN="")
    await process.start()
    try:
        base = f"http://127.0.0.1:{process.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "ok"
            async with http.get(f"{base}/") as resp:
                assert resp.status == 200 and "<html" in (await resp.text()).lower()
            async with http.get(f"{base}/console/", allow_redirects=True) as resp:
                assert resp.status == 200 and "Sign in" in await resp.text()
        assert (tmp_path / "data" / "frontdoor.sqlite3").is_file()
    finally:
        await process.stop()
    assert process.proc is not None and process.proc.returncode == 0
    assert "telegram" not in process.log().lower().split("web server", 1)[-1][:200]
