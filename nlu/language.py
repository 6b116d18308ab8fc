"""Language identification for short, messy chat messages.

Scripts that belong to one supported language (Tamil, Gujarati, Bengali, Gurmukhi,
Cyrillic) are decided by counting letters: no model needed. Arabic script (Arabic, Persian,
Urdu, Pashto, Shahmukhi Punjabi) is decided by distinctive letters, lexicon cue words and a
small lingua model. Latin script combines lingua (low-accuracy mode, restricted to the
supported Latin-script languages, which keeps it at ~20 MB and ~60 ms to load) with cue
words from the lexicons, which is also how romanised Urdu and Punjabi are recognised
(lingua has no model for them). ``language_hint`` wins when the text says too little.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nlu.lexicon import Lexicon
from nlu.text import script_counts, tokens

SUPPORTED = ("en", "pl", "ro", "ar", "ur", "pa", "so", "pt", "ta", "gu", "bn", "uk", "ps",
             "fa", "es", "fr")
LATIN_LINGUA = ("en", "pl", "ro", "so", "pt", "es", "fr")
ARABIC_LINGUA = ("ar", "fa", "ur")
SINGLE_SCRIPT = {"tamil": "ta", "gujarati": "gu", "bengali": "bn", "gurmukhi": "pa",
                 "cyrillic": "uk"}
# Letters that tell the Arabic-script languages apart, counted in the raw text (before
# normalisation). Phones type with the person's own keyboard, so Arabic ي/ك against the
# Persian/Urdu ی/ک is itself a strong signal.
ARABIC_KEYBOARD = "\u064a\u0643\u0629\u0649\u0623\u0625\u0624"  # ي ك ة ى أ إ ؤ
PERSIAN_KEYBOARD = "\u06cc\u06a9\u06af\u067e\u0686\u0698"  # ی ک گ پ چ ژ
URDU_LETTERS = "\u06d2\u06c1\u06ba\u0679\u0688\u0691\u06be\u06d3"  # ے ہ ں ٹ ڈ ڑ ھ ۓ
PASHTO_LETTERS = "\u06d0\u06cd\u067c\u0689\u0693\u0696\u069a\u06ab\u06bc\u0681\u0685"
# Bias towards English: most contacts are in English, and short English text is where the
# low-accuracy lingua model is weakest ("hello" is not French).
PRIOR = {"en": 0.15}
CUE_WEIGHT = 1.6
HINT_CUE_SHARE = 0.4
MIN_LETTERS = 6
MIN_MARGIN = 0.15


@dataclass(frozen=True)
class Detection:
    language: str
    scores: Mapping[str, float]
    confident: bool
    has_latin: bool = True  # English words may be mixed in: scan the English lexicon too

    def candidates(self, floor: float = 0.3) -> list[str]:
        """The detected language first, then others with a plausible score."""
        others = sorted((s, lang) for lang, s in self.scores.items()
                        if lang != self.language and s >= floor)
        return [self.language] + [lang for _s, lang in reversed(others)]


def _lingua_code(language: Any) -> str:
    return str(language.iso_code_639_1.name).lower()


class LanguageDetector:
    """Thread-safe once loaded; ``load()`` builds the lingua models (idempotent)."""

    def __init__(self, lexicons: Mapping[str, Lexicon]) -> None:
        self._lexicons = lexicons
        self._latin: Any = None
        self._arabic: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._latin is not None:
                return
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

            def build(codes: tuple[str, ...]) -> Any:
                langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
                         for c in codes]
                detector = (LanguageDetectorBuilder.from_languages(*langs)
                            .with_low_accuracy_mode().with_preloaded_language_models().build())
                detector.compute_language_confidence_values("warm up the model")
                return detector

            self._arabic = build(ARABIC_LINGUA)
            self._latin = build(LATIN_LINGUA)

    def _lingua(self, detector: Any, text: str) -> dict[str, float]:
        return {_lingua_code(c.language): float(c.value)
                for c in detector.compute_language_confidence_values(text)}

    def _cue_scores(self, words: list[str], langs: tuple[str, ...]) -> dict[str, float]:
        if not words:
            return {}
        out = {}
        for lang in langs:
            lex = self._lexicons.get(lang)
            if lex is not None:
                out[lang] = lex.count_cues(words) / len(words)
        return out

    def detect(self, text: str, norm: str, hint: str | None = None) -> Detection:
        if self._latin is None:
            self.load()
        hint = hint.lower().split("-")[0].split("_")[0] if hint else None
        if hint not in SUPPORTED:
            hint = None
        counts = script_counts(text)
        letters = sum(counts.values())
        if letters == 0:
            lang = hint or "en"
            return Detection(lang, {lang: 1.0}, False)
        script, n = max(counts.items(), key=lambda kv: kv[1])
        has_latin = bool(counts.get("latin"))
        if script in SINGLE_SCRIPT and n >= 2:
            lang = SINGLE_SCRIPT[script]
            scores = {lang: n / letters}
            if has_latin:
                scores["en"] = counts["latin"] / letters
            return Detection(lang, scores, True, has_latin)
        words = tokens(norm)
        if hint is not None and script == "latin" and len(words) >= 3:
            # The person's chosen language, and the text is full of its little words:
            # no need to ask lingua (a tenth of a millisecond saved on most messages).
            own = self._cue_scores(words, (hint,)).get(hint, 0.0)
            if own >= HINT_CUE_SHARE:
                return Detection(hint, {hint: 1.0 + own}, True, has_latin)
        if script == "arabic":
            scores = self._arabic_scores(text, norm, words)
        else:
            scores = self._latin_scores(norm, words)
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        confident = letters >= MIN_LETTERS and top - second >= MIN_MARGIN
        if not confident and hint is not None and hint in scores:
            best = hint
        elif not confident and hint is not None and letters < MIN_LETTERS * 2:
            best = hint
            scores = {**scores, hint: max(scores.get(hint, 0.0), top)}
        return Detection(best, scores, confident, has_latin)

    def _latin_scores(self, norm: str, words: list[str]) -> dict[str, float]:
        lingua = self._lingua(self._latin, norm)
        cues = self._cue_scores(words, (*LATIN_LINGUA, "ur", "pa"))
        scores: dict[str, float] = {}
        for lang in (*LATIN_LINGUA, "ur", "pa"):
            scores[lang] = (lingua.get(lang, 0.0) + CUE_WEIGHT * cues.get(lang, 0.0)
                            + PRIOR.get(lang, 0.0))
        # Romanised Urdu/Punjabi has no lingua model: cue words are all the evidence.
        for lang in ("ur", "pa"):
            scores[lang] = 2 * CUE_WEIGHT * cues.get(lang, 0.0)
        return scores

    def _arabic_scores(self, text: str, norm: str, words: list[str]) -> dict[str, float]:
        lingua = self._lingua(self._arabic, text)
        cues = self._cue_scores(words, ("ar", "fa", "ur", "ps", "pa"))
        scores = {lang: lingua.get(lang, 0.0) + CUE_WEIGHT * cues.get(lang, 0.0)
                  for lang in ("ar", "fa", "ur", "ps", "pa")}
        arabic = sum(text.count(ch) for ch in ARABIC_KEYBOARD)
        persian = sum(text.count(ch) for ch in PERSIAN_KEYBOARD)
        urdu = sum(text.count(ch) for ch in URDU_LETTERS)
        pashto = sum(text.count(ch) for ch in PASHTO_LETTERS)
        if pashto:
            scores["ps"] += 1.0 + 0.2 * min(pashto, 3)
        if urdu:
            scores["ur"] += 0.8
            scores["pa"] += 0.5  # Shahmukhi Punjabi shares Urdu's letters; its cues decide
        if persian > arabic:
            scores["ar"] -= 0.8
            if not urdu and not pashto:
                scores["fa"] += 1.0
        elif arabic > persian:
            scores["ar"] += 0.8
        return scores
