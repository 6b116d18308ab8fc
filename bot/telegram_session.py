"""aiogram's HTTP session, sending JSON bodies instead of multipart forms.

Why: aiogram posts every Bot API call as multipart form data, each field a part and each
part its own socket write; under load that was a fifth of the bot's CPU. The Bot API takes
the same fields as one JSON body. Calls that upload a file still go as a form (aiogram's own
path), and answers are checked by aiogram exactly as before, so its errors (retry after,
forbidden, bad request...) are unchanged.

`call_unread` is for calls whose answer the bot never reads (a reply sent, a button settled).
It takes the call's fields as JSON values, not aiogram's method model: building and dumping
the model cost ten times the JSON itself (a sendMessage with buttons, 40 µs against 4 µs).
A successful answer is only checked for `"ok": true` instead of being validated into
aiogram's models (a sent Message, dozens of nested fields, was a tenth of a turn's CPU). The
model is built only where aiogram needs one: for an error (so failures raise the same
errors), for the session's middlewares, and on another kind of session.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
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
        self, bot: Bot, method: Callable[[], TelegramMethod[Any]], api_method: str,
        body: dict[str, Any], request_timeout: float | None,
    ) -> tuple[int, str]:
        """POST one JSON body; `method` builds the model for a network error's message."""
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=api_method)
        try:
            async with session.post(
                url, data=self.json_dumps(body), headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if request_timeout is None
                                      else request_timeout),
            ) as resp:
                return resp.status, await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method(), message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method(),
                                       message=f"{type(e).__name__}: {e}") from e

    async def make_request(  # aiogram's signature, timeout included
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        """One call as JSON (a form when it uploads), its answer checked by aiogram."""
        body = self.build_json(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        status, raw_result = await self._post(bot, lambda: method, method.__api_method__, body,
                                              timeout)
        return cast(TelegramType, self.check_response(
            bot=bot, method=method, status_code=status, content=raw_result).result)

    async def call_unread(
        self, bot: Bot, method_type: type[TelegramMethod[Any]], fields: dict[str, Any],
        request_timeout: float | None = None,
    ) -> None:
        """Post `fields` (JSON values, None left out) as a `method_type` call; see the module."""
        if len(self.middleware):  # middlewares are given the model, as aiogram gives it them
            await self.middleware.wrap_middlewares(self.make_request, timeout=request_timeout)(
                bot, method_type(**fields))
            return
        model = functools.partial(method_type, **fields)
        status, raw_result = await self._post(bot, model, method_type.__api_method__, fields,
                                              request_timeout)
        if status == HTTPStatus.OK:
            with contextlib.suppress(ValueError):
                answer = self.json_loads(raw_result)
                if isinstance(answer, dict) and answer.get("ok") is True:
                    return
        self.check_response(bot=bot, method=model(), status_code=status, content=raw_result)


async def call_unread(
    bot: Bot, method_type: type[TelegramMethod[Any]], /, request_timeout: float | None = None,
    **fields: Any,
) -> None:
    """`bot(method_type(**fields))` for a result nobody reads: the light path on this bot's own
    session, aiogram's full one on any other. `fields` are JSON values (a keyboard as a dict)."""
    if isinstance(bot.session, JsonAiohttpSession):
        await bot.session.call_unread(bot, method_type, fields, request_timeout)
    else:
        await bot(method_type(**fields), request_timeout=cast(int | None, request_timeout))
