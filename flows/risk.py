"""The engine's view of the NLU: is this message a reason to send someone to the phone now?"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("frontdoor.risk")

ESCALATE = frozenset({"immediate", "urgent"})


@dataclass(frozen=True)
class Assessment:
    risk: str
    language: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def escalate(self) -> bool:
        return self.risk in ESCALATE


def assess(
    text: str, language: str | None, analyse: Callable[[str, str | None], Any] | None = None,
) -> Assessment:
    """Run the NLU on one free-text turn. If it fails, say so to the officer, never crash."""
    if analyse is None:
        import nlu

        analyse = nlu.analyse
    try:
        result = analyse(text, language)
    except Exception:  # the detector must never take the conversation down
        log.exception("risk analysis failed")
        return Assessment("concern", language,
                          [{"rule": "nlu_error", "phrase": "", "language": language or "",
                            "kind": "error"}])
    data: dict[str, Any] = result.to_dict()
    evidence = [dict(e) for e in data.get("evidence", [])]
    return Assessment(str(data.get("risk", "none")), data.get("language"), evidence, data)
