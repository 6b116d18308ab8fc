"""Every language's catalog is complete: no missing, fuzzy or still-English strings, the same
placeholders as the English, and it compiles. English goes through the catalogs too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from flows.catalogs import copied_english, languages, problems
from flows.i18n import translator
from profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]


def test_every_profile_language_has_a_catalog():
    assert set(load_profile().languages) <= set(languages())


@pytest.mark.parametrize("language", load_profile().languages)
def test_catalog_is_complete(language):
    assert problems(language) == []


def test_the_template_is_up_to_date_with_code_and_profile_data(tmp_path):
    """A string added to code or a journey without `make i18n` fails here."""
    fresh = tmp_path / "fresh.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "t",
                    "-o", str(fresh), "--no-location", "--sort-output", "."], cwd=ROOT,
                   check=True)
    def ids(path: Path) -> set[str]:  # parsed: long msgids span several lines
        with path.open("rb") as fh:
            return {str(m.id) for m in read_po(fh) if m.id}

    assert ids(fresh) == ids(ROOT / "flows/locale/frontdoor.pot")


def test_pasted_english_is_caught_but_names_may_stay():
    assert copied_english("Who are you?", "Who are you?")
    assert copied_english("Close", "Close") and copied_english("Route: {route}", "Route: {route}")
    assert not copied_english("Ealing Council", "Ealing Council")
    assert not copied_english("UPN", "UPN") and not copied_english(" ", " ")
    assert not copied_english("Who are you?", "Kim jesteś?")


def test_a_translated_question_is_served_in_that_language():
    assert translator("pl")("Who are you?") != "Who are you?"
    assert translator("ar").rtl and not translator("pl").rtl
