"""The shipped data: Rasa-format training files, the model artefact, the development set
and its targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import nlu
from nlu.evaluate import evaluate, read_labelled
from nlu.model import ARTEFACT, expected_fingerprint, read_artefact
from nlu.trainingdata import RASA_DIR, read_dataset
from nlu.types import INTENTS, RISKS

EVAL_DIR = Path(nlu.__file__).resolve().parent / "data" / "eval"
LANGUAGES = {"en", "pl", "ro", "ar", "ur", "pa", "so", "pt", "ta", "gu", "bn", "uk", "ps", "fa",
             "es", "fr"}


def test_rasa_files_are_rasa_nlu_format() -> None:
    for dataset, labels in (("intents", set(INTENTS)), ("risk", {f"risk_{r}" for r in RISKS})):
        files = sorted((RASA_DIR / dataset).glob("*.yml"))
        assert {f.stem for f in files} == LANGUAGES
        for path in files:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            assert data["version"] == "3.1"
            for block in data["nlu"]:
                assert block["intent"] in labels, (path, block["intent"])
                assert isinstance(block["examples"], str)
                assert block["examples"].lstrip().startswith("- ")


def test_model_artefact_is_up_to_date() -> None:
    """Fails after an edit to nlu/data/rasa/ until `python -m nlu.train` is run."""
    assert read_artefact(ARTEFACT).fingerprint == expected_fingerprint()


def test_eval_set_is_separate_from_training() -> None:
    training = {e.text.strip().lower() for ds in ("intents", "risk") for e in read_dataset(ds)}
    records, invalid = read_labelled(sorted(EVAL_DIR.glob("*.jsonl")))
    assert invalid == 0
    leaked = [r["text"] for r in records if r["text"].strip().lower() in training]
    assert not leaked


def test_eval_set_size_and_balance() -> None:
    for lang in LANGUAGES:
        rows = [json.loads(line) for line in
                (EVAL_DIR / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(rows) >= 40, lang
        assert {r["risk"] for r in rows} == set(RISKS), lang
        assert {r["intent"] for r in rows} == set(INTENTS), lang


def test_development_set_meets_targets() -> None:
    records, _ = read_labelled(sorted(EVAL_DIR.glob("*.jsonl")))
    report = evaluate(records, nlu.analyse)
    assert report.failures() == [], report.failures()
    report = evaluate(records, nlu.analyse, use_hint=False)
    assert report.failures() == [], report.failures()


def test_stale_artefact_falls_back_to_training_into_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nlu.model import load_model

    monkeypatch.setenv("FRONTDOOR_CACHE_DIR", str(tmp_path))
    model = load_model(tmp_path / "missing.json")
    assert model.fingerprint == expected_fingerprint()
    assert list(tmp_path.glob("nlu-model-*.json"))
    shipped = read_artefact(ARTEFACT)
    text = "my dad hits me"
    risk_a, _ = model.predict(text)
    risk_b, _ = shipped.predict(text)
    assert max(risk_a, key=risk_a.__getitem__) == max(risk_b, key=risk_b.__getitem__)
