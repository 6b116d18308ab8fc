"""The analyser: language -> lexicon hits -> model -> risk, intent, entities, level.

Everything heavy (YAML, regexes, lingua, model weights) is built once in ``load()`` under a
lock; ``analyse()`` only reads shared immutable state, so it is safe to call from many
threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from nlu import entities as entity_mod
from nlu import intent as intent_mod
from nlu import recache
from nlu import risk as risk_mod
from nlu.language import LanguageDetector
from nlu.lexicon import Hit, Lexicon, load_lexicon_data
from nlu.model import Model, cache_dir, load_model
from nlu.text import TOKEN_RE, normalise_with_map
from nlu.thresholds import Thresholds, load_thresholds
from nlu.types import Analysis, Evidence, Intent, Risk

MAX_CHARS = 5000  # longer messages are analysed on their first 5,000 characters
MAX_LANGUAGES = 2  # the detected language and the most plausible other (plus English)


class Analyser:
    def __init__(self, profile_dir: Path | None = None) -> None:
        self._profile_dir = profile_dir
        self._lock = threading.Lock()
        self._ready = False
        self.lexicons: dict[str, Lexicon] = {}
        self.thresholds: Thresholds | None = None
        self.detector: LanguageDetector | None = None
        self.model: Model | None = None

    def load(self) -> Analyser:
        """Build everything; idempotent and thread-safe."""
        if self._ready:
            return self
        with self._lock:
            if self._ready:
                return self
            thresholds = load_thresholds(self._profile_dir)
            cache = recache.RegexCache(cache_dir() / recache.cache_file_name())
            with recache.LOCK:  # one analyser at a time routes compiles through its cache
                previous = recache.use(cache)
                try:
                    lexicons: dict[str, Lexicon] = {}
                    for lang, data in load_lexicon_data().items():
                        lex = Lexicon(data)
                        lex.add_rules(thresholds.cue_rules(lang, boundary=lex.boundary,
                                                           gap_exclude=lex.gap_exclude))
                        lex.finalise()
                        lexicons[lang] = lex
                finally:
                    recache.use(previous)
            cache.save()
            detector = LanguageDetector(lexicons)
            detector.load()
            self.model = load_model()
            self.lexicons, self.thresholds, self.detector = lexicons, thresholds, detector
            self._ready = True
        return self

    def _scan(self, norm: str, languages: Iterable[str]) -> list[Hit]:
        hits: list[Hit] = []
        for lang in languages:
            lex = self.lexicons.get(lang)
            if lex is not None:
                hits.extend(lex.scan(norm))
        return hits

    def _signals(self, norm: str, languages: Iterable[str]) -> intent_mod.Signals:
        found = {"professional": False, "advice": False, "self_referral": False,
                 "greeting": False, "family": False, "own_family": False}
        for lang in languages:
            lex = self.lexicons.get(lang)
            if lex is None:
                continue
            for name, regex in (("professional", lex.professional), ("advice", lex.advice),
                                ("self_referral", lex.self_referral),
                                ("greeting", lex.greeting), ("family", lex.family),
                                ("own_family", lex.own_family)):
                if not found[name] and regex is not None and regex.search(norm):
                    found[name] = True
        return intent_mod.Signals(**found)

    def analyse(self, text: str, language_hint: str | None = None,
                intent_override: Intent | None = None) -> Analysis:
        self.load()
        assert self.detector is not None and self.thresholds is not None
        text = text[:MAX_CHARS]
        norm, offsets = normalise_with_map(text)
        detection = self.detector.detect(text, norm, language_hint)
        language = detection.language
        if not norm.strip():
            return Analysis(language=language, risk="none", intent="other")
        langs = detection.candidates()[:MAX_LANGUAGES]
        hint = (language_hint or "").lower()[:2]
        if hint in self.lexicons and hint not in langs:
            langs.append(hint)  # the language the person chose, whatever the text looks like
        if detection.has_latin and "en" not in langs:
            langs.append("en")
        hits = self._scan(norm, langs)
        phrases = {(h.start, h.end): text[offsets[h.start]:offsets[h.end - 1] + 1]
                   for h in hits}
        ents = entity_mod.extract(text, (norm, offsets))
        ages = entity_mod.ages(ents)
        risk_probs, intent_probs = self.model.predict(norm) if self.model else ({}, {})
        signals = self._signals(norm, langs)
        question = "?" in text or "\u061f" in text
        result = risk_mod.assess(hits, phrases, risk_probs or None, language, ages,
                                 n_tokens=len(TOKEN_RE.findall(norm)), question=question)
        hypothetical = any(e.kind == "hypothetical" for e in result.evidence)
        intent = intent_override or intent_mod.decide(result.risk, intent_probs, signals,
                                                      hypothetical)
        if result.risk == "immediate":
            intent = "emergency"
        assessment = self.thresholds.assess(result.indicators, result.modifiers, ages)
        risk, evidence = result.risk, result.evidence
        if assessment.level == 4 and risk in ("none", "concern"):
            # Vulnerability modifiers took the need to acute (e.g. a parent's drug use with
            # a baby): that is a child-protection call, so the reply must say so.
            risk = "urgent"
            evidence = (*evidence, Evidence("threshold:level_4", ", ".join(assessment.modifiers),
                                            language, "threshold"))
        level = _harmonise(assessment.level, risk, intent, signals, result.discounted_only)
        reasons = list(assessment.reasons)
        if level is not None:
            reasons.append(f"route: {self.thresholds.route(level)}")
        return Analysis(language=language, risk=risk, evidence=evidence,
                        intent=intent, entities=ents, indicators=assessment.indicators,
                        level=level, reasons=tuple(reasons))


def _harmonise(level: int | None, risk: Risk, intent: Intent, signals: intent_mod.Signals,
               discounted_only: bool) -> int | None:
    """Keep the level consistent with the risk: an alarm is acute need (4); a welfare
    concern is at least early help (2); nothing of concern is universal (1) when the person
    describes their own child or family ("my son starts school..."), and no level at all for
    greetings and general questions."""
    if risk in ("immediate", "urgent"):
        return 4
    if risk == "concern":
        if level is None or level < 2:
            return 2
        return min(level, 3)
    if intent != "other" and signals.own_family and not discounted_only:
        return 1
    return None
