"""Build aiogram's Telegram types on first use instead of at import: about 100 MB less memory.

Why: the end of ``aiogram/types/__init__.py`` calls ``model_rebuild(_types_namespace=...)`` on
every one of its ~440 ``TelegramObject`` models, and pydantic compiles each model's validator
and serializer there and then, each inlining its whole subtree of types. ``import aiogram``
alone then costs about 160 MB of resident memory and 3 s of CPU (aiogram issue #1513, "High
memory consumption due to importing any object from aiogram"), although a bot uses a
handful of those models.

What: this module imports aiogram itself, with pydantic's ``BaseModel.model_rebuild``
replaced for the duration of that import so that those import-time rebuilds only record the
namespace aiogram passes (``_types_namespace``) and build nothing. Afterwards
``TelegramObject``, ``TelegramMethod`` and ``Response`` get a ``model_rebuild`` that supplies
the recorded namespace; pydantic's deferred-build placeholders call ``model_rebuild`` on a
model's first validation or serialisation, so each model is built, with the same forward
references resolved, the first time it is used. ``BaseModel.model_rebuild`` itself is
pydantic's own again as soon as the import is over: other libraries' models are unaffected.

Import this module before anything imports aiogram. If aiogram was already imported, or its
import no longer makes the calls described above, nothing is changed and aiogram builds its
models eagerly as before; ``LAZY`` says whether the lazy build took effect (if the import
fails half-way, aiogram is imported again, eagerly). ``prebuild`` builds chosen models at
start-up so the first user's message does not pay for them. As with any deferred pydantic
model, the first use builds it and pydantic's rebuild is not thread-safe: use aiogram's
models from the event loop's thread, as aiogram does, or prebuild them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

_TYPES_PREFIX = "aiogram.types."
_MARK = "__frontdoor_aiogram_lazy__"  # set on our wrapper: the namespace it supplies

# pydantic's own classmethod object, and the function inside it.
_ORIGINAL_DESCRIPTOR: Any = BaseModel.__dict__["model_rebuild"]
_original: Any = _ORIGINAL_DESCRIPTOR.__func__


def _deferring_rebuild(recorded: list[Mapping[str, Any]]) -> Any:
    """``model_rebuild`` for the duration of aiogram's import: aiogram.types' import-time
    rebuilds (the only calls that pass ``_types_namespace`` to an aiogram.types model without
    ``force``) are recorded and skipped; every other call is pydantic's."""

    def model_rebuild(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
        **more: Any,  # whatever a later pydantic adds, passed on
    ) -> bool | None:
        if _types_namespace is not None and not force and cls.__module__.startswith(_TYPES_PREFIX):
            if not any(ns is _types_namespace for ns in recorded):
                recorded.append(_types_namespace)
            return None
        result: bool | None = _original(
            cls,
            force=force,
            raise_errors=raise_errors,
            # this function is one more frame between the caller and pydantic
            _parent_namespace_depth=_parent_namespace_depth + 1
            if _parent_namespace_depth > 0
            else _parent_namespace_depth,
            _types_namespace=_types_namespace,
            **more,
        )
        return result

    return classmethod(model_rebuild)


def _lazy_rebuild(namespace: Mapping[str, Any]) -> Any:
    """``model_rebuild`` for aiogram's models after import: pydantic's, with aiogram's types
    namespace under whatever namespace the caller gave."""

    def model_rebuild(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
        **more: Any,
    ) -> bool | None:
        if cls.__pydantic_complete__ and not force:
            return None  # what pydantic's model_rebuild returns here, without the dict copy
        types_namespace = (
            namespace if _types_namespace is None else {**namespace, **_types_namespace}
        )
        result: bool | None = _original(
            cls,
            force=force,
            raise_errors=raise_errors,
            _parent_namespace_depth=_parent_namespace_depth + 1
            if _parent_namespace_depth > 0
            else _parent_namespace_depth,
            _types_namespace=types_namespace,
            **more,
        )
        return result

    setattr(model_rebuild, _MARK, namespace)
    return classmethod(model_rebuild)


def _lazy_bases() -> tuple[type[BaseModel], ...]:
    from aiogram.methods.base import Response, TelegramMethod
    from aiogram.types.base import TelegramObject

    return TelegramObject, TelegramMethod, Response


def _installed_namespace() -> Mapping[str, Any] | None:
    """The namespace our wrapper supplies if it is already installed (a second import of
    this module under another name, or a reload), else None."""
    aiogram_types_base = sys.modules.get("aiogram.types.base")
    telegram_object = getattr(aiogram_types_base, "TelegramObject", None)
    descriptor = getattr(telegram_object, "__dict__", {}).get("model_rebuild")
    namespace: Mapping[str, Any] | None = getattr(
        getattr(descriptor, "__func__", None), _MARK, None
    )
    return namespace


def _import_aiogram() -> Mapping[str, Any] | None:
    """Import aiogram with the import-time rebuilds deferred; the namespace they carried."""
    recorded: list[Mapping[str, Any]] = []
    BaseModel.model_rebuild = _deferring_rebuild(recorded)  # type: ignore[method-assign]
    try:
        import aiogram
        import aiogram.methods
        import aiogram.types  # noqa: F401
    finally:
        BaseModel.model_rebuild = _ORIGINAL_DESCRIPTOR  # type: ignore[method-assign]
    if not recorded:
        return None
    if len(recorded) == 1:
        return recorded[0]
    merged: dict[str, Any] = {}
    for namespace in recorded:
        merged.update(namespace)
    return merged


def unbuilt() -> list[type[BaseModel]]:
    """The aiogram.types models still waiting for their first use (for tests and diagnostics)."""
    import aiogram.types

    found = []
    for name in getattr(aiogram.types, "__all__", ()):
        obj = getattr(aiogram.types, name, None)
        if isinstance(obj, type) and issubclass(obj, BaseModel) and not obj.__pydantic_complete__:
            found.append(obj)
    return found


def _drop_aiogram_modules() -> None:
    for name in [n for n in sys.modules if n == "aiogram" or n.startswith("aiogram.")]:
        del sys.modules[name]


def _install() -> bool:
    """Import aiogram lazily if possible; True if its models are now built on first use."""
    if _installed_namespace() is not None:
        return True
    if "aiogram" in sys.modules:
        log.debug("aiogram was imported before bot.aiogram_lazy: its models are built eagerly")
        return False
    try:
        namespace = _import_aiogram()
        if namespace is None:
            log.debug("aiogram's import made no deferrable rebuilds: nothing to do")
            return False
        for base in _lazy_bases():
            base.model_rebuild = _lazy_rebuild(namespace)  # type: ignore[method-assign]
        return True
    except Exception:
        # Whatever went wrong (aiogram's internals changed under us), fall back to aiogram's
        # own eager import in a clean state; an error there is aiogram's, and is raised.
        log.warning("lazy aiogram import failed; importing it eagerly", exc_info=True)
        BaseModel.model_rebuild = _ORIGINAL_DESCRIPTOR  # type: ignore[method-assign]
        _drop_aiogram_modules()
        import aiogram
        import aiogram.methods  # noqa: F401

        return False


def prebuild(*types: type[BaseModel]) -> None:
    """Build these models (e.g. ``Update``, ``Response[Message]``, ``methods.SendMessage``)
    now, so the first message does not pay for it. A model that is already built is left as
    it is; one that cannot be built raises pydantic's error. Harmless when ``LAZY`` is False.
    """
    for model in types:
        if not model.__pydantic_complete__:
            model.model_rebuild()
        if not model.__pydantic_complete__:  # pragma: no cover - raise_errors=True raises
            raise RuntimeError(f"could not build {model.__qualname__}")


LAZY: bool = _install()
"""True if aiogram's Telegram types are built on first use (see the module docstring)."""

__all__ = ["LAZY", "prebuild", "unbuilt"]
