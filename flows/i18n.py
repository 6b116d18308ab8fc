"""Translations: every user-facing string goes through these gettext catalogs, English included.

Catalogs are the `.po` files under flows/locale/<lang>/LC_MESSAGES/frontdoor.po; they are
compiled in memory at first use, so a stale `.mo` can never shadow an edited `.po`.
Placeholders use Python brace format: `_("Call {number}").format(number=...)`.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "frontdoor"
RTL = frozenset({"ar", "ur", "ps", "fa", "he"})


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (data, constants)."""
    return message


@cache
def available_languages() -> tuple[str, ...]:
    langs = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple(["en", *[lang for lang in langs if lang != "en"]])


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for `language`, falling back to the English source strings."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class Translator:
    """Bound to one language; `t.gettext` / `t.ngettext` as usual."""

    def __init__(self, language: str) -> None:
        self.language = language if language in available_languages() else "en"
        self._t = translations(self.language)

    @property
    def rtl(self) -> bool:
        return self.language in RTL

    def gettext(self, message: str) -> str:
        return self._t.gettext(message) if message else ""

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def __call__(self, message: str, **params: object) -> str:
        text = self.gettext(message)
        return text.format(**params) if params else text


def translator(language: str | None) -> Translator:
    return Translator(language or "en")
