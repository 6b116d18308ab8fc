"""Risk levels, and the context that discounts a risk phrase: negation, past/resolved
events, hypotheticals and benign idioms, in several languages."""

from __future__ import annotations

import pytest

from nlu import analyse


@pytest.mark.parametrize(("text", "lang"), [
    ("my dad is hitting my mum right now", None),
    ("help he's got a knife and says he'll kill us", None),
    ("my 3 year old is home alone and i can't find the mum", None),
    ("my baby isn't breathing", None),
    ("i've taken all my pills", None),
    ("pomocy, on teraz bije moją mamę", "pl"),
    ("ayuda, mi marido me está pegando ahora mismo", "es"),
    ("mon bébé ne respire pas", "fr"),
    ("ساعدوني هو يضرب امي الان", "ar"),
    ("abhi woh ammi ko maar raha hai madad karo", "ur"),
    ("என் குழந்தை மூச்சு விடவில்லை", "ta"),
])
def test_immediate(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "immediate"
    assert result.intent == "emergency"
    assert result.level == 4
    assert result.evidence, "an alarm must say why"


@pytest.mark.parametrize(("text", "lang"), [
    ("my stepdad hits me with a belt", None),
    ("my uncle touches me at night", None),
    ("my 13 year old has a 24 year old boyfriend who buys her stuff", None),
    ("they are taking my daughter abroad to be cut", None),
    ("i dont feel safe at home", None),
    ("i want to die", None),
    ("tata mnie bije", "pl"),
    ("tatăl meu mă bate", "ro"),
    ("aabbahay wuu i garaacaa", "so"),
    ("тато мене б'є", "uk"),
    ("میرا شوہر مجھے مارتا ہے", "ur"),
    ("شوهرم منو میزنه", "fa"),
    ("মারা স্বামী আমাকে মারে".replace("মারা", "আমার"), "bn"),
    ("મારા પતિ મને મારે છે", "gu"),
    ("ਮੇਰਾ ਪਤੀ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ", "pa"),
    ("میړه مې ما وهي", "ps"),
])
def test_urgent(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "urgent", result.evidence
    assert result.level == 4


@pytest.mark.parametrize(("text", "level"), [
    ("my son won't go to school", 2),
    ("we are struggling with money and rent arrears", 2),
    ("my 3 year old isn't talking yet", 2),
    ("my daughter has not been to school since october", 3),
    ("my kids dad is in prison and my son is angry all the time", 3),
    ("i care for my mum and miss school, im a young carer", 3),
])
def test_concern_and_level(text: str, level: int) -> None:
    result = analyse(text)
    assert result.risk == "concern"
    assert result.level == level


@pytest.mark.parametrize("text", ["hello", "thanks, that's helpful", "ok"])
def test_nothing_situational(text: str) -> None:
    result = analyse(text)
    assert result.risk == "none"
    assert result.level is None
    assert result.intent == "other"


@pytest.mark.parametrize(("text", "lang"), [
    ("he never hits them", None),
    ("my husband has never hurt me or the kids", None),
    ("nobody hits me at home", None),
    ("on nigdy ich nie bije", "pl"),
    ("él nunca les pega", "es"),
    ("il ne les frappe jamais", "fr"),
    ("il les frappe pas", "fr"),
    ("el nu i-a bătut niciodată", "ro"),
    ("wo mujhe kabhi nahi marta", "ur"),
    ("সে আমাকে মারে না", "bn"),
    ("அவர் என்னை அடிக்கவில்லை", "ta"),
    ("તે મને મારતા નથી", "gu"),
])
def test_negation(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "none", result.evidence
    assert not result.is_alarm


def test_negation_is_explained() -> None:
    result = analyse("he never hits them")
    assert [e.kind for e in result.evidence] == ["negated"]


@pytest.mark.parametrize(("text", "lang"), [
    ("years ago he hit me, he's in prison now", None),
    ("when i was little my dad used to beat me", None),
    ("kilka lat temu mąż mnie bił, ale teraz siedzi w więzieniu", "pl"),
    ("acum 4 ani fostul soț mă bătea, acum e la închisoare", "ro"),
    ("hace unos años mi ex me pegaba, ahora está en la cárcel", "es"),
])
def test_past_is_lower_but_still_a_concern(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "concern", result.evidence
    assert "past" in {e.kind for e in result.evidence}
    assert result.level == 3
    assert "abuse_history" in result.indicators


def test_current_event_beats_past_cue() -> None:
    assert analyse("years ago he hit me and now he is hitting my son").risk in (
        "urgent", "immediate")


@pytest.mark.parametrize(("text", "lang"), [
    ("what if someone hit a child", None),
    ("what are the signs that a child is being neglected?", None),
    ("what age can a child be left home alone?", None),
    ("que pasa si alguien le pega a un niño", "es"),
    ("co jeśli ktoś uderzy dziecko", "pl"),
    ("شو بصير اذا حدا ضرب طفل", "ar"),
])
def test_hypothetical_is_not_an_alarm(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "none", result.evidence
    assert result.intent == "advice"


def test_hypothetical_about_oneself_stays_a_concern() -> None:
    assert analyse("what should I do if my partner hits me").risk == "concern"


def test_again_means_it_happened() -> None:
    # "again" cancels the hypothetical: it has happened before, so it is a real concern.
    assert analyse("what if he hits me again").is_alarm


@pytest.mark.parametrize(("text", "lang"), [
    ("this homework is killing me", None),
    ("I'm dying to see them", None),
    ("my feet are killing me after work", None),
    ("my son beat me at chess again lol", None),
    ("cet examen me tue mdr", "fr"),
    ("me muero de ganas de verlos", "es"),
    ("umieram z głodu", "pl"),
    ("الشغل رح يقتلني", "ar"),
])
def test_idioms(text: str, lang: str | None) -> None:
    result = analyse(text, lang)
    assert result.risk == "none", result.evidence


def test_evidence_quotes_the_original_text() -> None:
    result = analyse("Tatăl meu mă BATE în fiecare zi", "ro")
    phrases = [e.phrase for e in result.evidence]
    assert any("BATE" in p for p in phrases), phrases
    assert all(e.language == "ro" for e in result.evidence if e.kind == "lexicon")


def test_under_5_modifier_raises_parental_drug_use_to_acute() -> None:
    result = analyse("my partner smokes weed every day and takes drugs, our baby is 3 months old")
    assert result.level == 4
    assert result.risk == "urgent"
    assert "parental_substance_misuse" in result.indicators


def test_romanised_urdu() -> None:
    result = analyse("mera shohar mujhe marta hai")
    assert result.language == "ur"
    assert result.risk == "urgent"


def test_empty_and_odd_input() -> None:
    for text in ("", "   ", "👍", "?!?!", "\u200b", "a" * 20000):
        result = analyse(text)
        assert result.risk in ("none", "concern")
