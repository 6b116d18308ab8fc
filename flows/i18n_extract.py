"""Babel extractor for profile data: journey prompts, labels and titles, and the council's names.

Registered in babel.cfg as `flows.i18n_extract:extract_yaml`, so `pybabel extract` puts journey
text in the same catalogs as the code's strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

TEXT_KEYS = frozenset({"prompt", "prompt_next", "label", "summary", "title", "intro", "more"})
# Profile values shown to people (outside journeys): dotted paths into the YAML.
PROFILE_PATHS = ("council", "hub.name", "escalation", "outcomes.*.label", "neighbours.*.name",
                 "elsewhere.name", "disclaimer", "levels.*.name", "levels.*.route",
                 "indicators.*.label", "modifiers.*.label")

Message = tuple[int, str, str, list[str]]


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, str) and value.strip():
                yield value.strip()
            elif key == "what_now" and isinstance(value, dict):
                yield from (str(v).strip() for v in value.values())
            else:
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _paths(node: Any, parts: list[str]) -> Iterator[str]:
    if not parts:
        if isinstance(node, str):
            yield node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        for item in items:
            yield from _paths(item, rest)
    elif isinstance(node, dict) and head in node:
        yield from _paths(node[head], rest)


def extract_yaml(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[Message]:
    data = yaml.safe_load(fileobj.read().decode("utf-8"))
    if isinstance(data, dict) and "steps" in data:
        strings = list(_walk(data))
    else:
        strings = [" ".join(s.split()) if path in ("escalation", "disclaimer") else s
                   for path in PROFILE_PATHS for s in _paths(data, path.split("."))]
    seen: set[str] = set()
    for text in strings:
        if text not in seen:
            seen.add(text)
            yield (0, "", text, [])
