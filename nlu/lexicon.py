"""Per-language lexicons: compiled risk rules plus the context that discounts them.

A lexicon is data (``nlu/data/lexicon/<lang>.yaml``). This module compiles it once and scans
normalised text, returning every rule hit together with how its context changes it:
negated ("he never hits them"), past/resolved ("years ago ... he's in prison now"),
hypothetical ("what if someone hit a child"), or a benign idiom ("this homework is killing
me"). Deciding what the hits mean for the risk level is nlu.risk's job, not this module's.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.recache import compile_regex, first_chars
from nlu.text import LEFT_BOUNDARY, RIGHT_BOUNDARY, TOKEN_RE, normalise, normalise_pattern
from nlu.types import RISK_ORDER, Risk

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_DIR = DATA_DIR / "lexicon"

PREFIX_LEN = 2  # rules are indexed by the first two characters a match can start with
_GAP_RE = re.compile(r"\{w(\d)\}")
_SPACED_GAP_RE = re.compile(r" \{w(\d)\}")
_TRAILING_GAP_RE = re.compile(r" \{w\d\}$")
_OPT_SPACE_RE = re.compile(r"(?<!\\) \?")
_SPACE_RE = re.compile(r"(?<!\\) ")
# Sentence ends; clause breaks add commas, colons and dashes (per-language words are added).
_SENTENCE_RE = re.compile(r"[.!?;\n\u061f\u06d4\u0964]+")
_CLAUSE_PUNCT = r"[.!?;,:\n\u060c\u061f\u06d4\u0964]|\s[-\u2013\u2014]\s"


def _trailing_optional(pattern: str) -> str:
    """A pattern ending in " (...)?" or " {wN}(...)?" must also match when the text stops
    (or has a comma) right before the optional part: only the spaces are made optional."""
    if not pattern.endswith(")?"):
        return pattern
    depth = 0
    for i in range(len(pattern) - 2, -1, -1):
        ch = pattern[i]
        if ch == ")" and (i == 0 or pattern[i - 1] != "\\"):
            depth += 1
        elif ch == "(" and (i == 0 or pattern[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                head, tail = pattern[:i], pattern[i:]
                gap = _TRAILING_GAP_RE.search(head)
                if gap:
                    return f"{head[:gap.start()]}(?: {head[gap.start() + 1:]}{tail[:-1]})?"
                if head.endswith(" "):
                    return f"{head[:-1]}(?: {tail[:-1]})?"
                return pattern
    return pattern


def expand_pattern(pattern: str, gap_exclude: str | None = None) -> str:
    """Expand the lexicon pattern language into Python regex syntax.

    ``{wN}`` means "up to N other words here" (never a negation word of the language, so
    "mujhe {w2}marta" does not match "mujhe kabhi nahi marta"); a space means "any run of
    whitespace" and " ?" optional whitespace. Letters are normalised like the text.
    """
    pattern = _trailing_optional(pattern)
    word = rf"(?!(?:{gap_exclude}){RIGHT_BOUNDARY})[^\s.!?;]+" if gap_exclude else r"[^\s.!?;]+"
    # " {wN}" after a stem first finishes that word: "(niemowl) {w6}" meets "niemowle ma".
    body = _SPACED_GAP_RE.sub(
        lambda m: rf"[^\s.!?;]*\s+(?:{word}\s+){{0,{m.group(1)}}}", pattern)
    body = _GAP_RE.sub(lambda m: rf"(?:{word}\s+){{0,{m.group(1)}}}", body)
    body = _OPT_SPACE_RE.sub(r"\\s*", body)
    body = _SPACE_RE.sub(r"\\s+", body)
    return normalise_pattern(body).replace("'", "")


def compile_alternation(patterns: Iterable[str], *, boundary: bool,
                        end_boundary: bool = False,
                        gap_exclude: str | None = None) -> re.Pattern[str] | None:
    """One regex for a list of patterns. Patterns are anchored at the start of a word
    unless the language sets ``boundary: none`` (Arabic-script clitics such as و/ب/ال
    attach to the next word). The boundary is written once per list: compiling Unicode
    character classes is the slow part of start-up."""
    bodies = [expand_pattern(p, gap_exclude) for p in patterns if p]
    if not bodies:
        return None
    prefix = LEFT_BOUNDARY if boundary else ""
    suffix = RIGHT_BOUNDARY if end_boundary else ""
    return compile_regex(prefix + "(?:" + "|".join(f"(?:{b})" for b in bodies) + ")" + suffix)




def compile_alternatives(patterns: Iterable[str], *, boundary: bool,
                         gap_exclude: str | None = None) -> tuple[re.Pattern[str], ...]:
    """One regex per pattern of a rule: the scanner indexes each by the letters it can
    start with, so at each word only the few patterns that could match are tried."""
    prefix = LEFT_BOUNDARY if boundary else ""
    return tuple(compile_regex(f"{prefix}(?:{expand_pattern(p, gap_exclude)})")
                 for p in patterns if p)


@dataclass(frozen=True)
class Rule:
    """One named risk rule (or threshold cue) in one language."""

    id: str
    risk: Risk
    alternatives: tuple[re.Pattern[str], ...]
    kind: str = "lexicon"
    indicator: str | None = None
    past_indicator: str | None = None
    escalate_now: bool = False
    young_child_only: bool = False
    escalate_young: bool = False
    age_below: int | None = None
    negatable: bool = True
    discountable: bool = True


IDIOM_RULE = Rule(id="benign_idiom", risk="none", alternatives=(), kind="idiom")


@dataclass(frozen=True)
class Hit:
    """A rule match in context. ``status`` is "active" or the reason it is discounted."""

    rule: Rule
    language: str
    start: int
    end: int
    status: str
    now: bool = False
    personal: bool = False


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def rules_from_spec(specs: Sequence[Mapping[str, Any]], *, boundary: bool,
                    kind: str = "lexicon", gap_exclude: str | None = None) -> list[Rule]:
    """Turn the ``rules:`` list of a lexicon (or threshold cues) into compiled rules."""
    rules: list[Rule] = []
    for spec in specs:
        alternatives = compile_alternatives(_words(spec.get("patterns")), boundary=boundary,
                                            gap_exclude=gap_exclude)
        if not alternatives:
            continue
        risk = str(spec.get("risk", "concern"))
        if risk not in RISK_ORDER:
            raise ValueError(f"rule {spec.get('id')!r}: unknown risk {risk!r}")
        rules.append(Rule(
            id=str(spec["id"]),
            risk=risk,  # type: ignore[arg-type]
            alternatives=alternatives,
            kind=str(spec.get("kind", kind)),
            indicator=spec.get("indicator"),
            past_indicator=spec.get("past_indicator"),
            escalate_now=bool(spec.get("escalate_now", False)),
            young_child_only=bool(spec.get("young_child_only", False)),
            escalate_young=bool(spec.get("escalate_young", False)),
            age_below=spec.get("age_below"),
            negatable=bool(spec.get("negatable", True)),
            discountable=bool(spec.get("discountable", True)),
        ))
    return rules


@dataclass
class _Spans:
    """Cue positions found once per text, reused for every hit in it."""

    clauses: list[int]
    sentences: list[int]
    negation: list[tuple[int, int]] = field(default_factory=list)
    negation_after: list[tuple[int, int]] = field(default_factory=list)
    past: list[tuple[int, int]] = field(default_factory=list)
    resolved: list[tuple[int, int]] = field(default_factory=list)
    current: list[tuple[int, int]] = field(default_factory=list)
    hypothetical: list[tuple[int, int]] = field(default_factory=list)
    hypo_cancel: list[tuple[int, int]] = field(default_factory=list)
    personal: list[tuple[int, int]] = field(default_factory=list)
    now: list[tuple[int, int]] = field(default_factory=list)
    idioms: list[tuple[int, int]] = field(default_factory=list)


class Lexicon:
    """The compiled lexicon of one language."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.language = str(data["language"])
        self.name = str(data.get("name", self.language))
        self.boundary = str(data.get("boundary", "word")) != "none"
        ctx: Mapping[str, Any] = data.get("context") or {}
        # Rules may match inside words (Arabic-script clitics), but context and intent cues
        # are short function words ("ما", "no") and must stand on their own.
        b = True

        def alt(key: str, *, end: bool = False) -> re.Pattern[str] | None:
            return compile_alternation(_words(ctx.get(key)), boundary=b, end_boundary=end)

        self.negation = alt("negation", end=True)
        # Negation after the phrase may be a suffix of a longer word (Bengali "মারেনি",
        # Tamil "அடிக்கவில்லை") but must end a word: "রান্নাঘরে" holds "না" and is a kitchen.
        self.negation_after = compile_alternation(_words(ctx.get("negation_after")), boundary=False,
                                           end_boundary=True)
        self.negation_prefix = tuple(normalise(p) for p in _words(ctx.get("negation_prefix")))
        self.negation_window = int(ctx.get("negation_window", 3))
        self.after_window = int(ctx.get("negation_after_window", 2))
        self.past = alt("past")
        self.resolved = alt("resolved")
        self.current = alt("current")
        self.hypothetical = alt("hypothetical")
        self.hypo_cancel = alt("hypothetical_cancel")
        self.personal = alt("personal", end=True)
        self.now = alt("now", end=True)
        breaks = _words(ctx.get("clause_break"))
        clause = _CLAUSE_PUNCT
        if breaks:
            words = "|".join(expand_pattern(w) for w in breaks)
            clause = f"{clause}|{LEFT_BOUNDARY}(?:{words}){RIGHT_BOUNDARY}"
        self.clause_re = compile_regex(clause)
        self.idioms = compile_alternation(_words(data.get("idioms")), boundary=self.boundary)
        self.professional = compile_alternation(_words(data.get("professional")), boundary=b)
        self.family = compile_alternation(_words(data.get("family")), boundary=b)
        self.own_family = compile_alternation(_words(data.get("own_family")), boundary=b)
        self.advice = compile_alternation(_words(data.get("advice")), boundary=b)
        self.self_referral = compile_alternation(_words(data.get("self_referral")), boundary=b)
        self.greeting = compile_alternation(_words(data.get("other")), boundary=b,
                                            end_boundary=True)
        self.cues = frozenset(normalise(w) for w in _words(data.get("cues")))
        negations = [expand_pattern(n) for n in _words(ctx.get("negation"))]
        self.gap_exclude = "|".join(f"(?:{n})" for n in negations) or None
        self.rules: list[Rule] = rules_from_spec(data.get("rules") or [],
                                                 boundary=self.boundary,
                                                 gap_exclude=self.gap_exclude)
        self._by_prefix: dict[str, tuple[tuple[int, int], ...]] = {}
        self._anywhere: tuple[tuple[int, int], ...] = ()
        self._finalised = False

    def add_rules(self, rules: Iterable[Rule]) -> None:
        self.rules.extend(rules)
        self._finalised = False

    def finalise(self) -> None:
        """Index every rule pattern by the first two characters its matches can start
        with. A message is then scanned word by word, trying only the few patterns that
        can start with that word's first letters, instead of every rule over all the text."""
        by_prefix: dict[str, set[tuple[int, int]]] = {}
        anywhere: set[tuple[int, int]] = set()
        for i, rule in enumerate(self.rules):
            for j, alternative in enumerate(rule.alternatives):
                prefixes = first_chars(alternative.pattern)
                if prefixes is None:
                    anywhere.add((i, j))
                    continue
                for prefix in prefixes:
                    by_prefix.setdefault(prefix, set()).add((i, j))
        # A key of one character also collects the patterns whose prefix is that one
        # character (a match may be a single letter, or the text may end there).
        self._by_prefix = {}
        for key, ids in by_prefix.items():
            extra = by_prefix.get(key[:1], set()) if len(key) > 1 else set()
            self._by_prefix[key] = tuple(sorted(ids | extra | anywhere))
        self._anywhere = tuple(sorted(anywhere))
        self._finalised = True

    # -- scanning ---------------------------------------------------------------------

    def _find(self, regex: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
        if regex is None:
            return []
        return [m.span() for m in regex.finditer(text)]

    def _spans(self, text: str) -> _Spans:
        clauses = [0]
        for m in self.clause_re.finditer(text):
            clauses.append(m.end() if m.group(0).strip(" ") in ".!?;,:\n" else m.start())
        sentences = [0] + [m.end() for m in _SENTENCE_RE.finditer(text)]
        return _Spans(
            clauses=clauses,
            sentences=sentences,
            negation=self._find(self.negation, text),
            negation_after=self._find(self.negation_after, text),
            past=self._find(self.past, text),
            resolved=self._find(self.resolved, text),
            current=self._find(self.current, text),
            hypothetical=self._find(self.hypothetical, text),
            hypo_cancel=self._find(self.hypo_cancel, text),
            personal=self._find(self.personal, text),
            now=self._find(self.now, text),
            idioms=self._find(self.idioms, text),
        )

    @staticmethod
    def _region(bounds: list[int], pos: int, length: int) -> tuple[int, int]:
        i = bisect_right(bounds, pos) - 1
        start = bounds[max(i, 0)]
        end = bounds[i + 1] if i + 1 < len(bounds) else length
        return start, end

    def _negated(self, text: str, sp: _Spans, start: int, end: int) -> bool:
        c_start, c_end = self._region(sp.clauses, start, len(text))
        for n_start, n_end in sp.negation:
            if c_start <= n_start and n_end <= start:
                gap = len(TOKEN_RE.findall(text, n_end, start))
                if gap <= self.negation_window:
                    return True
        for prefix in self.negation_prefix:
            if text.startswith(prefix, max(0, start - len(prefix))) and start >= len(prefix):
                return True
        if sp.negation_after:
            # Look through the rest of the matched word (Tamil, Bengali and Gujarati put the
            # negation in the verb's ending) plus the next few words; a negation inside the
            # phrase itself ("ne respire pas") belongs to the phrase and does not count.
            limit = end
            mid_word = end < len(text) and TOKEN_RE.match(text, end) is not None
            allowed = self.after_window + (1 if mid_word else 0)
            for i, m in enumerate(TOKEN_RE.finditer(text, end)):
                if i >= allowed or m.start() >= c_end:
                    break
                limit = m.end()
            for n_start, _n_end in sp.negation_after:
                if end <= n_start < limit:
                    return True
        return False

    def scan(self, text: str) -> list[Hit]:
        """Every rule hit in normalised ``text`` with its context status. A benign idiom is
        reported too (as an "idiom" hit of no risk), so that nothing downstream reads
        "this homework is killing me" as danger."""
        hits: list[Hit] = []
        sp: _Spans | None = None
        if not self._finalised:
            self.finalise()
        starts = ([m.start() for m in TOKEN_RE.finditer(text)] if self.boundary
                  else range(len(text)))
        last_end: dict[int, int] = {}
        found: list[tuple[int, int, int]] = []
        by_prefix, anywhere, rules = self._by_prefix, self._anywhere, self.rules
        for pos in starts:
            candidates = by_prefix.get(text[pos:pos + PREFIX_LEN])
            if candidates is None:
                candidates = by_prefix.get(text[pos:pos + 1], anywhere)
            for i, j in candidates:
                if pos < last_end.get(i, -1):
                    continue  # this rule already matched here or over here (as finditer)
                m = rules[i].alternatives[j].match(text, pos)
                if m is not None:
                    last_end[i] = max(m.end(), pos + 1)
                    found.append((i, pos, m.end()))
        for i, start, end in sorted(found):  # rule order, then text order: stable evidence
            if sp is None:
                sp = self._spans(text)
            hits.append(self._judge(self.rules[i], text, sp, start, end))
        if self.idioms is not None:
            for m in self.idioms.finditer(text):
                if not any(h.start < m.end() and m.start() < h.end for h in hits):
                    hits.append(Hit(rule=IDIOM_RULE, language=self.language, start=m.start(),
                                    end=m.end(), status="idiom"))
        return hits

    def _judge(self, rule: Rule, text: str, sp: _Spans, start: int, end: int) -> Hit:
        c_start, c_end = self._region(sp.clauses, start, len(text))
        s_start, s_end = self._region(sp.sentences, start, len(text))

        def within(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
            return any(lo <= a < hi for a, _b in spans)

        now = within(sp.now, c_start, c_end)
        personal = within(sp.personal, s_start, s_end)
        status = "active"
        if rule.discountable and any(a < end and start < b for a, b in sp.idioms):
            status = "idiom"
        elif rule.negatable and self._negated(text, sp, start, end):
            status = "negated"
        elif rule.discountable and within(sp.hypothetical, s_start, s_end) \
                and not within(sp.hypo_cancel, s_start, s_end):
            status = "hypothetical"
        elif rule.discountable and (within(sp.past, c_start, c_end)
                                    or within(sp.resolved, s_start, s_end)) \
                and not within(sp.current, c_start, c_end):
            status = "past"
        return Hit(rule=rule, language=self.language, start=start, end=end, status=status,
                   now=now, personal=personal)

    def count_cues(self, words: Iterable[str]) -> int:
        return sum(1 for w in words if w in self.cues)


def read_yaml(path: Path) -> Any:
    """Parse YAML with libyaml when available (several times faster at start-up)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def load_lexicon_data(directory: Path = LEXICON_DIR) -> dict[str, dict[str, Any]]:
    """Raw YAML of every lexicon file, keyed by language code."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = read_yaml(path)
        out[str(data["language"])] = data
    return out


def load_lexicons(directory: Path = LEXICON_DIR) -> dict[str, Lexicon]:
    return {lang: Lexicon(data) for lang, data in load_lexicon_data(directory).items()}
