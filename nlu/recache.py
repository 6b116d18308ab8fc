"""A persistent cache of compiled regular expressions, so start-up stays under a second.

The lexicons hold ~100,000 characters of patterns; CPython's ``re`` parser needs more than
a second for them. ``re`` itself only caches in memory, so this module keeps what
``re._compiler`` produces (the opcode list and group tables) in a file under the cache
directory, keyed by the interpreter version and the regex engine's magic number, and hands
it straight back to ``_sre.compile``. Exactly the same compiled patterns, without parsing.
The opcodes are kept as packed machine words (``array``), not lists of int objects: the
cache is read whole at start-up, and as lists it took some 10 MB more at that peak.

Anything unexpected (another Python, a damaged file) falls back to plain ``re.compile``.
The file is trusted like Python's own ``__pycache__``: it lives in the user's cache dir.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import sys
import threading
from array import array
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

try:  # CPython 3.11/3.12 internals; absent or different elsewhere
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]

    _SUPPORTED = (sys.implementation.name == "cpython"
                  and sys.version_info[:2] in {(3, 11), (3, 12)}
                  and array("I").itemsize == _sre.CODESIZE)
    _KEY = f"{sys.version}|{_sre.MAGIC}|{sys.byteorder}|v4"
except ImportError:  # pragma: no cover - other interpreters
    _SUPPORTED = False
    _KEY = ""


class RegexCache:
    """Compiles through the cache; ``save()`` writes new entries back."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, tuple[Any, ...]] = {}
        self._firsts: dict[str, str | None] = {}
        self._dirty = False
        self._lock = threading.Lock()
        if path is not None and _SUPPORTED:
            self._read(path)

    def _read(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError:
            return
        try:
            digest, payload = raw[:32], memoryview(raw)[32:]  # a view: no second copy
            if hashlib.sha256(payload).digest() != digest:
                raise ValueError("checksum mismatch")
            # marshal, like Python's own .pyc files: our own file in our own cache dir,
            # checksummed against damage; it holds only ints, strings, bytes, tuples and dicts.
            key, entries, firsts = marshal.loads(payload)  # noqa: S302
            if key == _KEY and isinstance(entries, dict) and isinstance(firsts, dict):
                self._entries, self._firsts = entries, firsts
        except (ValueError, EOFError, TypeError) as exc:
            log.warning("ignoring damaged regex cache (%s)", type(exc).__name__)

    def compile(self, pattern: str) -> re.Pattern[str]:
        if not _SUPPORTED:
            return re.compile(pattern)
        entry = self._entries.get(pattern)
        if entry is not None:
            try:
                flags, packed, *tables = entry
                words = array("I")
                words.frombytes(packed)
                cached: re.Pattern[str] = _sre.compile(pattern, flags, words.tolist(), *tables)
                return cached
            except (TypeError, ValueError, RuntimeError):
                pass
        parsed = _parser.parse(pattern, 0)
        code = _compiler._code(parsed, 0)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        # Plain ints: the opcodes are int subclasses, which marshal cannot store.
        flags = int(parsed.state.flags)
        groups = (parsed.state.groups - 1, {str(k): int(v) for k, v in groupindex.items()},
                  tuple(indexgroup))
        compiled: re.Pattern[str] = _sre.compile(pattern, flags, [int(c) for c in code], *groups)
        try:
            packed = array("I", code).tobytes()
        except (OverflowError, TypeError):  # pragma: no cover - CODESIZE words always fit
            return compiled
        with self._lock:
            self._entries[pattern] = (flags, packed, *groups)
            self._dirty = True
        return compiled

    def first_chars(self, pattern: str) -> frozenset[str] | None:
        """The strings of up to PREFIX_LEN characters a match of ``pattern`` can start
        with (None: unknown or anything). Lets a lexicon try only the rules that can start
        at a given word."""
        if not _SUPPORTED:
            return None
        if pattern in self._firsts:
            stored = self._firsts[pattern]
            return None if stored is None else frozenset(stored.split("\x00"))
        found = _prefixes(_parser.parse(pattern, 0).data)
        result = None if (found is None or "" in found) else frozenset(found)
        with self._lock:
            self._firsts[pattern] = None if result is None else "\x00".join(sorted(result))
            self._dirty = True
        return result

    def save(self) -> None:
        """Write the cache if anything new was compiled (atomically; errors only logged)."""
        if not (self._dirty and self.path is not None and _SUPPORTED):
            return
        with self._lock:
            payload = marshal.dumps((_KEY, self._entries, self._firsts))
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not write the regex cache (%s)", type(exc).__name__)


PREFIX_LEN = 2
_MAX_PREFIXES = 4096
_MAX_RANGE = 256
_ZERO_WIDTH = {"ASSERT", "ASSERT_NOT", "AT"}
# The patterns only ever meet normalised text (nlu.text), where every space is " " and
# every digit ASCII, so these classes have small, exact character sets.
_NORMALISED_CATEGORIES = {"CATEGORY_SPACE": " ", "CATEGORY_DIGIT": "0123456789"}


def _concat(left: set[str], right: set[str]) -> set[str] | None:
    out = set()
    for a in left:
        if len(a) >= PREFIX_LEN:
            out.add(a)
            continue
        for b in right:
            out.add((a + b)[:PREFIX_LEN])
        if len(out) > _MAX_PREFIXES:
            return None
    return out


def _prefixes(seq: Any) -> set[str] | None:
    """Every string of up to PREFIX_LEN characters a match of the parsed sequence can begin
    with (shorter strings: the match may end there), or None when that is unbounded. Only
    ever a superset of the truth, so an index built on it never hides a match."""
    result = {""}
    for op, av in seq:
        item = _item_prefixes(str(op), av)
        if item is None:
            return None
        joined = _concat(result, item)
        if joined is None:
            return None
        result = joined
        if all(len(p) >= PREFIX_LEN for p in result):
            break
    return result


def _item_prefixes(name: str, av: Any) -> set[str] | None:
    if name in _ZERO_WIDTH:
        return {""}
    if name == "LITERAL":
        return {chr(av)}
    if name == "IN":
        chars: set[str] = set()
        for sub_op, sub_av in av:
            sub = str(sub_op)
            if sub == "LITERAL":
                chars.add(chr(sub_av))
            elif sub == "RANGE" and sub_av[1] - sub_av[0] <= _MAX_RANGE:
                chars.update(chr(c) for c in range(sub_av[0], sub_av[1] + 1))
            elif sub == "CATEGORY" and str(sub_av) in _NORMALISED_CATEGORIES:
                chars.update(_NORMALISED_CATEGORIES[str(sub_av)])
            else:
                return None
        return chars
    if name == "SUBPATTERN":
        return _prefixes(av[3])
    if name == "BRANCH":
        union: set[str] = set()
        for alt in av[1]:
            got = _prefixes(alt)
            if got is None:
                return None
            union |= got
        return union
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        one = _prefixes(sub)
        if one is None:
            return None
        union = {""} if low == 0 else set()
        current = {""}
        for n in range(1, min(high, PREFIX_LEN + 1) + 1):
            nxt = _concat(current, one)
            if nxt is None:
                return None
            current = nxt
            if n >= low:
                union |= current
        if low > PREFIX_LEN + 1:
            union |= current
        return union
    return None  # ANY, NOT_LITERAL, categories, back-references...


def cache_file_name() -> str:
    """One file per interpreter and cache format, so two versions never fight over one."""
    digest = hashlib.sha256(_KEY.encode()).hexdigest()[:12]
    return f"nlu-regex-{digest}.cache"


_active: RegexCache = RegexCache(None)
LOCK = threading.Lock()


def use(cache: RegexCache) -> RegexCache:
    """Route ``compile_regex`` through ``cache`` (the analyser does this while loading)."""
    global _active
    previous, _active = _active, cache
    return previous


def compile_regex(pattern: str) -> re.Pattern[str]:
    return _active.compile(pattern)


def first_chars(pattern: str) -> frozenset[str] | None:
    return _active.first_chars(pattern)
