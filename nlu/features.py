"""Hashed character n-gram features, identical at training and at run time.

Run time needs no scikit-learn (slow to import, heavy in memory): the features are hashed
with CRC-32 (stable across processes, unlike ``hash()``) into a fixed number of buckets and
weighted with sublinear TF times the IDF learnt in training, then L2-normalised.
"""

from __future__ import annotations

import zlib
from array import array
from functools import lru_cache
from itertools import pairwise

from nlu.text import TOKEN_RE

N_FEATURES = 1 << 18
NGRAMS = (2, 3, 4, 5)
VERSION = 1  # bump when the feature definition changes (the artefact records it)
# Words whose features are kept. Each costs about 300 bytes as a compact int32 array (a
# tuple of int objects cost 1.1 KB: 65,536 of them grew a long-running bot by 72 MB);
# a miss costs some 10 microseconds.
WORD_CACHE = 16384


@lru_cache(maxsize=WORD_CACHE)
def _word_features(word: str) -> array[int]:
    mask = N_FEATURES - 1
    out = array("i", [zlib.crc32(("w:" + word).encode("utf-8")) & mask])
    padded = f" {word} "
    for n in NGRAMS:
        if len(padded) < n:
            continue
        for i in range(len(padded) - n + 1):
            out.append(zlib.crc32(padded[i:i + n].encode("utf-8")) & mask)
    return out


def ids(norm_text: str) -> list[int]:
    """Every feature occurrence (as a bucket) of normalised text: the words, their
    character n-grams, and word bigrams, which carry short phrases such as "not safe"."""
    out: list[int] = []
    words = TOKEN_RE.findall(norm_text)
    for word in words:
        out.extend(_word_features(word))
    mask = N_FEATURES - 1
    for a, b in pairwise(words):
        out.append(zlib.crc32(f"b:{a} {b}".encode()) & mask)
    return out


def counts(norm_text: str) -> dict[int, int]:
    """Bucket -> count (what training uses; run time counts the same ids with numpy)."""
    out: dict[int, int] = {}
    for idx in ids(norm_text):
        out[idx] = out.get(idx, 0) + 1
    return out

