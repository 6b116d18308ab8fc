"""Reading the training data, which is kept in Rasa's YAML NLU format so a council's Rasa
team can reuse it as it is (``version: "3.1"``, ``nlu: - intent: X examples: | - ...``).

Two datasets live side by side: ``nlu/data/rasa/intents/`` (what the person wants) and
``nlu/data/rasa/risk/`` (intents named ``risk_immediate`` ... ``risk_none``: how serious it is).
They are separate Rasa datasets because an example has one intent in each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RASA_DIR = Path(__file__).resolve().parent / "data" / "rasa"
_ENTITY_RE = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]*\}")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str


def _strip_annotations(text: str) -> str:
    return _ENTITY_RE.sub(lambda m: m.group(1) or m.group(2), text)


def parse_examples(block: Any) -> list[str]:
    """Examples from a Rasa ``examples:`` value (the ``- item`` block or a list)."""
    if isinstance(block, list):
        items = [str(e["text"]) if isinstance(e, dict) else str(e) for e in block]
    else:
        items = [line.strip()[2:] for line in str(block).splitlines()
                 if line.strip().startswith("- ")]
    return [_strip_annotations(t).strip() for t in items if t.strip()]


def read_file(path: Path) -> list[Example]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    language = path.stem
    out: list[Example] = []
    for item in data.get("nlu") or []:
        if "intent" not in item:
            continue
        label = str(item["intent"])
        out.extend(Example(t, label, language) for t in parse_examples(item.get("examples")))
    return out


def files(dataset: str, root: Path = RASA_DIR) -> list[Path]:
    return sorted((root / dataset).glob("*.yml"))


def read_dataset(dataset: str, root: Path = RASA_DIR) -> list[Example]:
    """All examples of ``intents`` or ``risk``, from every language file."""
    return [ex for path in files(dataset, root) for ex in read_file(path)]


def fingerprint(paths: Iterable[Path]) -> str:
    """Hash of the training files' contents: the artefact records it to detect staleness."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.parent.name}/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def training_fingerprint(root: Path = RASA_DIR) -> str:
    return fingerprint([*files("intents", root), *files("risk", root)])
