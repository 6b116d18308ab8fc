"""Front Door NLU: language, risk, intent, entities and threshold indicators for one
free-text message. ``analyse`` is fast (sub-millisecond typical), thread-safe and needs no
network; ``load`` warms it up at start-up.

>>> from nlu import analyse
>>> analyse("my dad is hitting my mum right now").risk
'immediate'
"""

from __future__ import annotations

from nlu.pipeline import Analyser
from nlu.types import Analysis, Entity, Evidence, Intent, Risk

__all__ = ["Analyser", "Analysis", "Entity", "Evidence", "Intent", "Risk", "analyse",
           "analyse_async", "load"]

_DEFAULT = Analyser()


def load() -> None:
    """Build the lexicons, language models and classifier now rather than on first use."""
    _DEFAULT.load()


def analyse(text: str, language_hint: str | None = None) -> Analysis:
    """Analyse one message. ``language_hint`` (ISO 639-1, e.g. the language the person
    chose) decides when the text itself is too short or ambiguous to tell."""
    return _DEFAULT.analyse(text, language_hint)


async def analyse_async(text: str, language_hint: str | None = None) -> Analysis:
    """Like ``analyse``; with ``NLU_BACKEND=rasa`` the intent comes from a Rasa server
    (falling back to the local model on any error). Risk is always decided locally."""
    from nlu.rasa import analyse_with_backend

    return await analyse_with_backend(_DEFAULT, text, language_hint)
