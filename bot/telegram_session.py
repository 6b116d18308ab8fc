"""aiogram's HTTP session, sending JSON bodies instead of multipart forms.

Why: aiogram posts every Bot API call as multipart form data, each field a part and each
part its own socket write; under load that was a fifth of the bot's CPU. The Bot API takes
the same fields as one JSON body. Calls that upload a file still go as a form (aiogram's own
path), and answers are checked by aiogram exactly as before, so its errors (retry after,
forbidden, bad request...) are unchanged.

`call_unread` is for calls whose answer the bot never reads (a reply sent, a button settled):
a successful answer is only checked for `"ok": true` instead of being validated into
aiogram's models (a sent Message, dozens of nested fields, was a tenth of a turn's CPU); any
other answer goes through aiogram's check, so failures raise the same errors.
"""

from __future__ import annotations

import contextlib
import functools
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

JSON_HEADERS = {"Content-Type": "application/json"}


class JsonAiohttpSession(AiohttpSession):
    def build_json(self, bot: Bot, method: TelegramMethod[TelegramType]) -> dict[str, Any] | None:
        """The call's fields as JSON values; None when it uploads a file (a form is needed)."""
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None:
                body[key] = prepared
        return None if files else body

    async def _post(
        self, bot: Bot, method: TelegramMethod[TelegramType], body: dict[str, Any],
        request_timeout: int | None,
    ) -> tuple[int, str]:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url, data=self.json_dumps(body), headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if request_timeout is None
                                      else request_timeout),
            ) as resp:
                return resp.status, await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e

    async def make_request(  # aiogram's signature, timeout included
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        return cast(TelegramType, await self._request(bot, method, timeout, read=True))

    async def call_unread(
        self, bot: Bot, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> None:
        """Make a call whose result is not needed, through the session's middlewares like
        `bot(method)`, raising the same errors."""
        unread = functools.partial(self._request, read=False)
        await self.middleware.wrap_middlewares(unread, timeout=request_timeout)(bot, method)

    async def _request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None,  # noqa: ASYNC109
        *, read: bool,
    ) -> Any:
        """One call as JSON (a form when it uploads). `read=False`: a successful answer is
        only checked for `"ok": true`; any other goes through aiogram's check."""
        body = self.build_json(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        status, raw_result = await self._post(bot, method, body, timeout)
        if not read and status == HTTPStatus.OK:
            with contextlib.suppress(ValueError):
                answer = self.json_loads(raw_result)
                if isinstance(answer, dict) and answer.get("ok") is True:
                    return answer.get("result")
        return self.check_response(bot=bot, method=method, status_code=status,
                                   content=raw_result).result

async def call_unread(
    bot: Bot, method: TelegramMethod[Any], request_timeout: int | None = None
) -> None:
    """`bot(method)` for a result nobody reads: the light check on this bot's own session,
    aiogram's full one on any other."""
    if isinstance(bot.session, JsonAiohttpSession):
        await bot.session.call_unread(bot, method, request_timeout)
    else:
        await bot(method, request_timeout=request_timeout)
