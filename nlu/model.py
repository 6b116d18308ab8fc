"""The light statistical model: two linear classifiers (risk, intent) over hashed character
n-grams. It catches phrasings the lexicon rules miss (misspellings, other word orders).

The fitted weights ship as ``nlu/data/model.json`` (made by ``python -m nlu.train``): only the
rows of features seen in training, as zlib-compressed int16 arrays with one scale per class.
Scoring is one small numpy product; run time does not need scikit-learn (slow to import,
tens of MB). If the artefact is missing or
older than the training data, the model is trained once and cached under
``~/.cache/frontdoor`` (that path needs scikit-learn).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu import features
from nlu.trainingdata import training_fingerprint

log = logging.getLogger(__name__)
ARTEFACT = Path(__file__).resolve().parent / "data" / "model.json"
_SENTINEL = np.iinfo(np.int32).max  # above every hashed feature (< features.N_FEATURES)


def cache_dir() -> Path:
    base = os.environ.get("FRONTDOOR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "frontdoor")
    return Path(base)


def pack(values: array[Any]) -> str:
    """array -> little-endian, zlib-compressed, base64 text (JSON-safe, compact)."""
    if values.itemsize > 1 and array("h", [1]).tobytes()[0] != 1:
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(zlib.compress(values.tobytes(), 9)).decode("ascii")


def unpack(typecode: str, text: str) -> array[Any]:
    values = array(typecode)
    values.frombytes(zlib.decompress(base64.b64decode(text)))
    if values.itemsize > 1 and array("h", [1]).tobytes()[0] != 1:
        values.byteswap()
    return values


@dataclass(frozen=True)
class Head:
    """One linear classifier: weights (known rows x classes) and biases."""

    classes: tuple[str, ...]
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]

    def probabilities(self, rows: npt.NDArray[np.integer[Any]],
                      vals: npt.NDArray[np.floating[Any]]) -> dict[str, float]:
        scores = vals @ self.weights[rows] + self.bias if len(rows) else self.bias.copy()
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return dict(zip(self.classes, probs.tolist(), strict=True))


@dataclass(frozen=True)
class Model:
    risk: Head
    intent: Head
    # The hashed features seen in training, sorted, with each one's row of the weights (-1:
    # none) and IDF; any other feature has no row and the IDF ``idf_default`` (the largest).
    # Dense arrays over all 2**18 buckets held the same in 2 MB instead of 0.5 MB.
    keys: npt.NDArray[np.int32]
    row: npt.NDArray[np.int32]
    idf: npt.NDArray[np.float32]
    idf_default: np.float32
    fingerprint: str

    def predict(self, norm_text: str) -> tuple[dict[str, float], dict[str, float]]:
        """(risk probabilities, intent probabilities) for normalised text."""
        found = features.ids(norm_text)
        if not found:
            empty_rows = np.zeros(0, dtype=np.intp)
            empty = np.zeros(0, dtype=np.float32)
            return (self.risk.probabilities(empty_rows, empty),
                    self.intent.probabilities(empty_rows, empty))
        buckets, counts = np.unique(np.asarray(found, dtype=np.int32), return_counts=True)
        at = np.searchsorted(self.keys, buckets)  # < len(keys): the last is a sentinel
        seen = self.keys[at] == buckets
        weights = (1.0 + np.log(counts, dtype=np.float32)) * np.where(seen, self.idf[at],
                                                                       self.idf_default)
        weights /= float(np.sqrt(weights @ weights)) or 1.0
        rows = np.where(seen, self.row[at], -1)
        known = rows >= 0
        index, vals = rows[known], weights[known]
        return self.risk.probabilities(index, vals), self.intent.probabilities(index, vals)


def _sparse(rows: npt.NDArray[np.int32], idf_rows: npt.NDArray[np.int32],
            idf_vals: npt.NDArray[np.float32], idf_default: np.float32,
            ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """(keys, row, idf) holding what ``dense_row[rows] = arange(len(rows))`` and
    ``dense_idf[idf_rows] = idf_vals`` would (a feature listed twice keeps its last value).
    The last key is a sentinel above every bucket, so a search never runs off the end."""
    keys = np.append(np.union1d(rows, idf_rows), _SENTINEL).astype(np.int32)
    row = np.full(len(keys), -1, dtype=np.int32)
    row[np.searchsorted(keys, rows)] = np.arange(len(rows), dtype=np.int32)
    idf = np.full(len(keys), idf_default, dtype=np.float32)
    idf[np.searchsorted(keys, idf_rows)] = idf_vals
    return keys, row, idf


def _head(data: dict[str, Any], n_rows: int) -> Head:
    classes = tuple(data["classes"])
    quantised = np.frombuffer(unpack("h", data["weights"]).tobytes(), dtype=np.int16)
    weights = quantised.reshape(n_rows, len(classes)).astype(np.float32)
    weights *= np.asarray(data["scales"], dtype=np.float32)
    return Head(classes, weights, np.asarray(data["bias"], dtype=np.float32))


def read_artefact(path: Path) -> Model:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    rows = np.frombuffer(unpack("i", data["rows"]).tobytes(), dtype=np.int32)
    idf_rows = np.frombuffer(unpack("i", data["idf_rows"]).tobytes(), dtype=np.int32)
    idf_vals = np.frombuffer(unpack("f", data["idf_vals"]).tobytes(), dtype=np.float32)
    fingerprint = data["fingerprint"]
    if data["feature_version"] != features.VERSION or data["n_features"] != features.N_FEATURES:
        fingerprint = "stale-feature-version"
    idf_default = np.float32(float(data["idf_default"]))
    keys, row, idf = _sparse(rows, idf_rows, idf_vals, idf_default)
    return Model(
        risk=_head(data["risk"], len(rows)),
        intent=_head(data["intent"], len(rows)),
        keys=keys,
        row=row,
        idf=idf,
        idf_default=idf_default,
        fingerprint=fingerprint,
    )


def expected_fingerprint() -> str:
    return f"{features.VERSION}:{training_fingerprint()}"


def load_model(path: Path = ARTEFACT) -> Model:
    """The shipped model if current, else a cached or freshly trained one."""
    want = expected_fingerprint()
    if path.exists():
        model = read_artefact(path)
        if model.fingerprint == want:
            return model
        log.warning("nlu model artefact is older than the training data; "
                    "run `python -m nlu.train` to refresh it")
    cached = cache_dir() / f"nlu-model-{want.replace(':', '-')[:24]}.json"
    if cached.exists():
        return read_artefact(cached)
    from nlu.train import train_and_save  # needs scikit-learn; only when the artefact is stale

    cached.parent.mkdir(parents=True, exist_ok=True)
    train_and_save(cached)
    return read_artefact(cached)
