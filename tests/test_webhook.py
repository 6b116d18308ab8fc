"""Webhook mode: Telegram posts updates to the bot, which checks the secret token header."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.fake_bot_api import FakeBotAPI
from tests.support.botproc import BotProcess, TelegramUser

pytestmark = pytest.mark.slow


async def test_webhook_mode_answers_real_updates_and_refuses_a_wrong_secret(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/hook.sqlite3"
    async with FakeBotAPI() as fake:
        process = BotProcess(url, fake.base_url, tmp_path / "bot.log",
                             WEBHOOK_SECRET="s3cret-Token_for-tests")
        process.env["WEBHOOK_URL"] = f"http://127.0.0.1:{process.port}"
        await process.start()
        try:
            # The server is up (healthy) before it registers the webhook: wait for that.
            for _ in range(100):
                info = await fake.call_method("getWebhookInfo")
                if info["url"]:
                    break
                await asyncio.sleep(0.1)
            assert info["url"].endswith("/telegram/webhook")
            user = TelegramUser(fake, 1234)
            replies = await user.command("start")
            assert "qualified social worker" in replies[-1]["text"]
            assert all(d.get("status", 200) == 200 for d in fake.webhook_deliveries())
            forged = {"update_id": 42, "message": {
                "message_id": 1, "date": 1, "text": "/start",
                "chat": {"id": 666, "type": "private"},
                "from": {"id": 666, "is_bot": False, "first_name": "X"}}}
            async with aiohttp.ClientSession() as http:
                hook = f"http://127.0.0.1:{process.port}/telegram/webhook"
                async with http.post(hook, json=forged, headers={
                        "X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                    assert resp.status in (401, 403)
                async with http.post(hook, json=forged) as resp:
                    assert resp.status in (401, 403)
            assert fake.sent(666) == []
        finally:
            await process.stop()
