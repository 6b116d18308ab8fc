"""Intent and language identification."""

from __future__ import annotations

import pytest

from nlu import analyse


@pytest.mark.parametrize(("text", "intent"), [
    ("I need help with my son, he won't go to school", "self_referral"),
    ("we're struggling and need some support please", "self_referral"),
    ("I'm a teacher, does this meet threshold for a child with 55% attendance?",
     "professional_query"),
    ("as DSL I want to refer a family for early help", "professional_query"),
    ("how do I apply for free school meals?", "advice"),
    ("what is early help", "advice"),
    ("help he is hitting her now", "emergency"),
    ("hello", "other"),
    ("thank you", "other"),
])
def test_intents(text: str, intent: str) -> None:
    assert analyse(text).intent == intent


@pytest.mark.parametrize(("text", "lang"), [
    ("my son is being bullied at school", "en"),
    ("mój syn nie chce chodzić do szkoły", "pl"),
    ("fiul meu nu vrea să meargă la școală", "ro"),
    ("mi hijo no quiere ir al colegio", "es"),
    ("o meu filho não quer ir à escola", "pt"),
    ("mon fils ne veut pas aller à l'école", "fr"),
    ("wiilkayga ma rabo inuu dugsiga aado", "so"),
    ("мій син не хоче ходити до школи", "uk"),
    ("ابني ما يبي يروح المدرسة", "ar"),
    ("پسرم نمیخواد بره مدرسه", "fa"),
    ("میرا بیٹا اسکول نہیں جانا چاہتا", "ur"),
    ("mera beta school nahi jana chahta hai", "ur"),
    ("ਮੇਰਾ ਪੁੱਤ ਸਕੂਲ ਨਹੀਂ ਜਾਂਦਾ", "pa"),
    ("زما زوی ښوونځي ته نه ځي", "ps"),
    ("আমার ছেলে স্কুলে যায় না", "bn"),
    ("મારો દીકરો શાળાએ જતો નથી", "gu"),
    ("என் மகன் பள்ளிக்கு போவதில்லை", "ta"),
])
def test_languages(text: str, lang: str) -> None:
    assert analyse(text).language == lang


def test_hint_decides_short_text() -> None:
    assert analyse("ok", "pl").language == "pl"
    assert analyse("hi", "so").language == "so"
    # a long clear message is not overruled by a wrong hint
    assert analyse("my son is being bullied at school and I need help", "pl").language == "en"


def test_english_mixed_into_another_language_still_fires() -> None:
    result = analyse("mój partner ma knife i mówi że nas zabije", "pl")
    assert result.is_alarm


def test_to_dict_is_json_ready() -> None:
    import json

    data = analyse("my dad hits me, I'm 12, we live at UB8 1QS").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["risk"] == "urgent"
    assert {"rule", "phrase", "language", "kind"} <= set(data["evidence"][0])
