"""``python -m nlu.train``: fit the risk and intent models on the Rasa YAML training data and
write ``nlu/data/model.json``. Run it after editing anything under ``nlu/data/rasa/``; a test
fails while the shipped artefact is out of date."""

from __future__ import annotations

import argparse
import json
import math
import sys
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlu import features
from nlu.model import ARTEFACT, expected_fingerprint, pack
from nlu.text import normalise
from nlu.trainingdata import Example, read_dataset

RISK_LABELS = {"risk_immediate": "immediate", "risk_urgent": "urgent",
               "risk_concern": "concern", "risk_none": "none"}
C_RISK = 8.0
C_INTENT = 8.0


def _matrix(texts: Sequence[str]) -> tuple[object, list[dict[int, int]]]:
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    all_counts = []
    for r, text in enumerate(texts):
        c = features.counts(normalise(text))
        all_counts.append(c)
        for idx, v in c.items():
            rows.append(r)
            cols.append(idx)
            vals.append(1.0 + math.log(v))
    m = csr_matrix((vals, (rows, cols)), shape=(len(texts), features.N_FEATURES),
                   dtype=np.float64)
    return m, all_counts


def _idf(all_counts: list[dict[int, int]]) -> tuple[np.ndarray, float]:
    n = len(all_counts)
    df = np.zeros(features.N_FEATURES, dtype=np.float64)
    for c in all_counts:
        df[list(c)] += 1
    idf = np.log((1 + n) / (1 + df)) + 1.0
    return idf, math.log(1 + n) + 1.0


def _fit(x: object, labels: list[str], c: float, columns: np.ndarray
         ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Multinomial logistic regression on the columns that occur (fast), with the weights
    scattered back to the full hashed feature space."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=500, class_weight="balanced", solver="newton-cg")
    clf.fit(x[:, columns], labels)  # type: ignore[index]
    coef = np.zeros((features.N_FEATURES, len(clf.classes_)), dtype=np.float64)
    coef[columns] = clf.coef_.T
    return [str(k) for k in clf.classes_], coef, clf.intercept_


def _weighted(x: object, idf: np.ndarray) -> object:
    from scipy.sparse import diags
    from sklearn.preprocessing import normalize

    return normalize(x @ diags(idf), norm="l2")


def train_and_save(path: Path = ARTEFACT) -> dict[str, int]:
    """Fit both heads on all training examples and write the artefact; returns counts."""
    risk = read_dataset("risk")
    intents = read_dataset("intents")
    texts = [e.text for e in (*risk, *intents)]
    x_all, all_counts = _matrix(texts)
    idf, idf_default = _idf(all_counts)
    x = _weighted(x_all, idf)
    columns = np.flatnonzero(idf < idf_default)
    n_risk = len(risk)
    x_risk = x[:n_risk]  # type: ignore[index]
    x_intent = x[n_risk:]  # type: ignore[index]
    risk_classes, risk_w, risk_b = _fit(x_risk, [_risk_label(e) for e in risk], C_RISK, columns)
    intent_classes, intent_w, intent_b = _fit(x_intent, [e.label for e in intents], C_INTENT,
                                              columns)
    used = np.flatnonzero((np.abs(risk_w).sum(axis=1) + np.abs(intent_w).sum(axis=1)) > 0)
    artefact = {
        "fingerprint": expected_fingerprint(),
        "feature_version": features.VERSION,
        "n_features": features.N_FEATURES,
        "rows": pack(array("i", used.tolist())),
        "idf_rows": pack(array("i", columns.tolist())),
        "idf_vals": pack(array("f", idf[columns].tolist())),
        "idf_default": idf_default,
        "risk": _quantised(risk_classes, risk_w[used], risk_b),
        "intent": _quantised(intent_classes, intent_w[used], intent_b),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(artefact, indent=1) + "\n", encoding="utf-8")
    return {"risk_examples": n_risk, "intent_examples": len(intents),
            "features": int(used.size)}


def _quantised(classes: list[str], weights: np.ndarray, bias: np.ndarray) -> dict[str, object]:
    """int16 weights with one scale per class: ~4x smaller, error below 1e-4 of the range."""
    scales = np.abs(weights).max(axis=0) / 32767.0
    scales[scales == 0] = 1.0
    q = np.rint(weights / scales).astype(np.int16)
    return {"classes": classes, "scales": scales.tolist(), "bias": bias.tolist(),
            "weights": pack(array("h", q.ravel().tolist()))}


def _risk_label(example: Example) -> str:
    try:
        return RISK_LABELS[example.label]
    except KeyError:
        raise ValueError(f"{example.language}: unknown risk intent {example.label!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.train", description=__doc__)
    parser.add_argument("--output", type=Path, default=ARTEFACT)
    args = parser.parse_args(argv)
    stats = train_and_save(args.output)
    print(f"wrote {args.output}: {stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
