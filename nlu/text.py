"""Text normalisation shared by every matcher and by the statistical model.

The normaliser keeps a map back to the original offsets, so a match found in the
normalised text points at the span of the original text (evidence shows what the person
actually wrote). It lower-cases, drops apostrophes and Latin diacritics (people often type
without them), unifies Arabic-script letter variants and maps any digit to ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Characters that continue a word, including the combining vowel signs of Indic scripts
# (which Python's \w does not count as word characters). Arabic harakat and Latin
# diacritics are gone after normalisation, so they need no place here.
WORD_CHARS = r"\w\u0900-\u0dff"
LEFT_BOUNDARY = rf"(?<![{WORD_CHARS}])"
RIGHT_BOUNDARY = rf"(?![{WORD_CHARS}])"
TOKEN_RE = re.compile(rf"[{WORD_CHARS}]+")

_ARABIC_MAP = {
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0622": "\u0627",  # آ -> ا
    "\u0671": "\u0627",  # ٱ -> ا
    "\u064a": "\u06cc",  # ي -> ی
    "\u0649": "\u06cc",  # ى -> ی
    "\u06d2": "\u06cc",  # ے -> ی (Urdu bari ye)
    "\u0643": "\u06a9",  # ك -> ک
    "\u06c1": "\u0647",  # ہ -> ه (Urdu heh goal)
    "\u06d5": "\u0647",  # ە -> ه
    "\u06c0": "\u0647",  # ۀ -> ه
    "\u0629": "\u0647",  # ة -> ه
    "\u06c3": "\u0647",  # ۃ -> ه
    "\u0624": "\u0648",  # ؤ -> و
    "\u0626": "\u06cc",  # ئ -> ی
    "\u06be": "\u0647",  # ھ -> ه (do-chashmi heh)
    # Indic letters that exist both precomposed and as letter + nukta: use the bare
    # letter (the nukta is dropped below), so both spellings meet the same pattern.
    "\u09dc": "\u09a1", "\u09dd": "\u09a2", "\u09df": "\u09af",  # Bengali ড় ঢ় য়
    "\u0a59": "\u0a16", "\u0a5a": "\u0a17", "\u0a5b": "\u0a1c", "\u0a5e": "\u0a2b",
    "\u0a33": "\u0a32", "\u0a36": "\u0a38",  # Gurmukhi ਖ਼ ਗ਼ ਜ਼ ਫ਼ ਲ਼ ਸ਼
}
# Apostrophes are dropped: "don't"/"dont", "m'a"/"ma", "б'є"/"бє" are typed both ways.
_QUOTES = {"\u2019", "\u2018", "\u02bc", "`", "\u00b4", "'"}
# Dropped: Arabic harakat, tatweel and zero-width joiners (typed or not, same word), and
# the Indic marks people often leave out: nukta, Gurmukhi addak and nasal tippi/bindi.
_DROPPED = (set(range(0x064B, 0x0660)) | {0x0670, 0x0640, 0x200C, 0x200D, 0x200B, 0xFEFF}
            | {0x093C, 0x09BC, 0x0A3C, 0x0ABC, 0x0A71, 0x0A70, 0x0A02})


@lru_cache(maxsize=4096)
def _norm_char(ch: str) -> str:
    if ch in _QUOTES:
        return ""
    if ch in _ARABIC_MAP:
        return _ARABIC_MAP[ch]
    code = ord(ch)
    if code in _DROPPED:
        return ""
    if ch.isspace():
        return " "
    if ch.isdigit():
        digit = unicodedata.digit(ch, None)
        if digit is not None:
            return str(digit)
    low = ch.lower()
    if len(low) != 1:
        low = ch
    if code < 0x0250 or 0x1E00 <= code <= 0x1EFF:  # Latin: strip diacritics
        low = unicodedata.normalize("NFD", low)[0]
        if low == "ł":
            low = "l"
        elif low == "ø":
            low = "o"
        elif low == "đ":
            low = "d"
    elif 0x0400 <= code <= 0x04FF:  # Cyrillic: keep letters, fold the Russian-keyboard typo
        low = {"ё": "е", "ґ": "г"}.get(low, low)
    return low


def normalise(text: str) -> str:
    """See the module docstring for what changes."""
    return "".join(_norm_char(ch) for ch in text)


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the index in ``text`` it came from
    (one extra entry for the end), so evidence can quote what the person wrote."""
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        mapped = _norm_char(ch)
        if mapped:
            out.append(mapped)
            offsets.append(i)
    offsets.append(len(text))
    return "".join(out), offsets


def normalise_pattern(pattern: str) -> str:
    """Normalise the letters of a regex but not its ASCII syntax (``\\S`` must stay)."""
    if pattern.isascii():
        return pattern
    table = {ord(ch): _norm_char(ch) for ch in set(pattern) if not ch.isascii()}
    return pattern.translate(table)


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def script_counts(text: str) -> dict[str, int]:
    """Letters per script: what the language detector uses for its shortcuts."""
    counts: dict[str, int] = {}
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            if ch.isalpha():
                counts["latin"] = counts.get("latin", 0) + 1
            continue
        if not (ch.isalpha() or unicodedata.category(ch).startswith("M")):
            continue
        if code < 0x0250 or 0x1E00 <= code <= 0x1EFF:
            name = "latin"
        elif 0x0400 <= code <= 0x04FF:
            name = "cyrillic"
        elif 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
            name = "arabic"
        elif 0x0980 <= code <= 0x09FF:
            name = "bengali"
        elif 0x0A00 <= code <= 0x0A7F:
            name = "gurmukhi"
        elif 0x0A80 <= code <= 0x0AFF:
            name = "gujarati"
        elif 0x0B80 <= code <= 0x0BFF:
            name = "tamil"
        elif 0x0900 <= code <= 0x097F:
            name = "devanagari"
        else:
            name = "other"
        counts[name] = counts.get(name, 0) + 1
    return counts
