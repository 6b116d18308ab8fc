"""Keeping the translation catalogs whole: refresh from the template, and check them.

`python -m flows.catalogs update` merges flows/locale/frontdoor.pot into every language's .po
(English gets msgstr = msgid, so it is complete by construction); `check` reports missing or
fuzzy strings, placeholder mismatches and catalogs that do not compile.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from flows.i18n import DOMAIN, LOCALE_DIR

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_LETTER = re.compile(r"[^\W\d_]")


def _proper_names() -> frozenset[str]:
    """Names that stay in English in every language: councils, the hub, their websites."""
    from profiles import load_profile

    profile = load_profile()
    names = {profile.raw["council"], profile.raw["hub"]["name"]}
    names |= {c["name"] for c in profile.postcodes.get("neighbours", {}).values()}
    return frozenset(names)


def copied_english(msgid: str, msgstr: str) -> bool:
    """English pasted in as its own translation. Proper names, acronyms (UPN) and strings
    with no words may stay the same."""
    if msgstr != msgid:
        return False
    words = _PLACEHOLDER.sub("", msgid).strip()
    if not _LETTER.search(words) or words.isupper() or msgid in _proper_names():
        return False
    return True


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


def update(languages: list[str]) -> None:
    template = _read(TEMPLATE)
    for language in languages:
        path = po_path(language)
        catalog = _read(path, language) if path.exists() else Catalog(locale=language,
                                                                      domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        if language == "en":
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True,
                     sort_output=True)


def reset_copied_english(language: str) -> int:
    path = po_path(language)
    catalog = _read(path, language)
    count = 0
    for message in catalog:
        if message.id and copied_english(str(message.id), str(message.string)):
            message.string = ""
            count += 1
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True,
                 sort_output=True)
    return count


def problems(language: str) -> list[str]:
    """Everything wrong with one language's catalog, as exact messages."""
    path = po_path(language)
    if not path.exists():
        return [f"{language}: no catalog at {path}"]
    template_ids = {m.id for m in _read(TEMPLATE) if m.id}
    catalog = _read(path, language)
    found: list[str] = []
    ids = {m.id for m in catalog if m.id}
    for missing in sorted(template_ids - ids):
        found.append(f"{language}: missing {missing!r}")
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            found.append(f"{language}: fuzzy {message.id!r}")
        if not message.string:
            found.append(f"{language}: untranslated {message.id!r}")
            continue
        if (language != "en" and "same" not in message.flags
                and copied_english(str(message.id), str(message.string))):
            # A word that really is the same (es "No", fr "Police") carries `#, same`.
            found.append(f"{language}: still English {message.id!r}")
        source = set(_PLACEHOLDER.findall(str(message.id)))
        target = set(_PLACEHOLDER.findall(str(message.string)))
        if source != target:
            found.append(f"{language}: placeholders {sorted(source)} != {sorted(target)} in "
                         f"{message.id!r}")
    try:
        write_mo(io.BytesIO(), catalog)
    except Exception as exc:  # an uncompilable catalog is a problem to report, not a crash
        found.append(f"{language}: does not compile: {exc}")
    return found


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "reset-english":  # turn pasted-in English back into "untranslated"
        for language in argv[1:] or languages():
            if language != "en":
                reset_copied_english(language)
        return 0
    if command == "update":
        update(argv[1:] or languages() or ["en"])
        return 0
    issues = [p for lang in (argv[1:] or languages()) for p in problems(lang)]
    for issue in issues:
        print(issue)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
