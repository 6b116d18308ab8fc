"""Threshold guidance on realistic professionals' descriptions (written by the team).

Each vignette goes through the real NLU and the profile's threshold data, as in the
professional journey: the indicative level, the route for it, and the indicators named in the
explanation. Follow-up answers (injury, disclosure, engagement, protective factors, age) are
given where a vignette needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import nlu
from flows import guidance
from flows.i18n import translator
from flows.journey import Journey
from nlu.thresholds import load_thresholds
from profiles import load_profile

ROUTES = {
    1: "Advice and signposting",
    2: "Early Help Assessment",
    3: "Targeted early help",
    4: "Phone the Stronger Families Hub now",
}


@dataclass(frozen=True)
class Vignette:
    text: str
    level: int
    indicators: tuple[str, ...] = ()  # at least these must be named
    answers: dict[str, str] = field(default_factory=dict)  # follow-up step -> choice id
    age: int | None = None


VIGNETTES = [
    # Level 1: universal
    Vignette("Mum of a 3 year old asked me where she can find out about the 30 free hours of "
             "childcare. No concerns about the child.", 1, ("universal_information",)),
    Vignette("Dad wants to know how school admissions work for his son starting reception "
             "next September. The family are doing well.", 1, ("universal_information",)),
    Vignette("A parent asked about nursery places near Hayes for her daughter, she is "
             "thriving and there are no worries.", 1, ("universal_information",)),
    # Level 2: additional needs, early help
    Vignette("Year 2 girl whose speech is well behind her peers, she struggles to make herself "
             "understood. Parents are keen for help.", 2, ("speech_language_delay",)),
    Vignette("Year 7 boy has been anxious and tearful since starting secondary school and has "
             "very low self-esteem. Mum is worried but supportive.", 2,
             ("emotional_wellbeing",)),
    Vignette("The family live in an overcrowded one-bedroom flat and mum says money is really "
             "tight, they are behind on bills. The children are well cared for.", 2,
             ("housing_problems", "financial_hardship")),
    Vignette("Reception child is often late and has missed a few days this term. Mum says "
             "mornings are chaotic and she would like help with routines.", 2,
             ("occasional_absence",)),
    Vignette("The baby has missed her 12 month immunisations twice. Mum says she forgot; "
             "otherwise the baby is thriving.", 2, ("missed_health_appointments",), age=1),
    Vignette("A 14 year old was caught drinking alcohol with friends at the weekend for the "
             "first time. Parents are upset and want advice.", 2,
             ("early_offending_or_substance",)),
    Vignette("Boy in year 5 is being bullied online by other children in his class and his "
             "parents are worried about him.", 2, ("bullying",)),
    Vignette("Her grandad died last month and since then she has been quiet and withdrawn in "
             "class.", 2, ("bereavement_loss",)),
    Vignette("Mum and dad argue a lot and are talking about separating; the children seem "
             "unsettled but are attending school.", 2, ("parental_conflict",)),
    # Level 3: complex needs, targeted / social-care-led
    Vignette("Attendance is 62% this year, persistent absence, letters 1 to 3 sent and the "
             "parents are not responding.", 3, ("persistent_absence",)),
    Vignette("A 15 year old girl in year 11 is pregnant, her boyfriend is 17. She is still "
             "coming to school.", 3, ("pregnancy_under_18",)),
    Vignette("Mum has severe depression and some days can't get out of bed, so her 10 year "
             "old son gets his little sister ready for school.", 3,
             ("parental_mental_health", "young_carer")),
    Vignette("Dad was sent to prison last month and the children are struggling. Mum is on "
             "her own with three children.", 3, ("parent_in_prison",)),
    Vignette("Year 9 student is self-harming, she has cuts on her arms. She is seeing the "
             "school counsellor.", 3, ("self_harm",)),
    Vignette("The family were evicted last week and are now sofa surfing with relatives.", 3,
             ("homelessness",)),
    Vignette("A 13 year old has been living with a family friend, not a relative, for two "
             "months while his mum is abroad.", 3, ("private_fostering",)),
    Vignette("There is a history of domestic abuse. Dad left two years ago and there has been "
             "no contact since; mum wants support for the children.", 3, ("abuse_history",)),
    Vignette("Mum drinks heavily most evenings and the 12 year old says he makes his own "
             "dinner most nights.", 3, ("parental_substance_misuse",)),
    Vignette("He has a speech delay, the family are in temporary accommodation and mum says "
             "she can't cope with his behaviour at home.", 3,
             ("speech_language_delay", "housing_problems")),
    Vignette("Teenager using cannabis every day, smoking before school, and has been "
             "arrested for shoplifting.", 3, ("young_person_substance_use",)),
    # Level 3 lowered by protective factors
    Vignette("Mum's mental health has been poor and she is struggling with the children, but "
             "grandma lives with them and helps every day.", 2, ("parental_mental_health",),
             answers={"prof_protective": "yes"}),
    # Level 4: acute need, child protection
    Vignette("A 6 year old came in with a bruise on his face and said his dad hit him with a "
             "belt last night.", 4, ("physical_abuse",)),
    Vignette("The 3 month old baby has a bruise on her arm and the parents can't explain "
             "how it happened.", 4, ("unexplained_injury_baby",), age=0),
    Vignette("A 14 year old girl has a much older boyfriend who gives her gifts and vapes, "
             "and she has gone missing overnight twice.", 4,
             ("child_sexual_exploitation",)),
    Vignette("Year 10 boy is carrying large amounts of cash and new phones and goes to other "
             "towns on school days. We think it is county lines.", 4,
             ("child_criminal_exploitation",)),
    Vignette("Mum told me she plans to take her 7 year old daughter abroad this summer to be "
             "cut, as her sisters were.", 4, ("fgm_risk",)),
    Vignette("Mum's new partner is a registered sex offender and is moving in with her and "
             "her two girls.", 4, ("sex_offender_household",)),
    Vignette("A 17 year old told me her family are forcing her to marry a cousin abroad in "
             "the holidays.", 4, ("forced_marriage_hbv",)),
    Vignette("An 8 year old girl told her teacher that her stepdad touches her private parts "
             "at night.", 4, ("sexual_abuse",)),
    # Follow-up answers changing the level
    Vignette("Year 3 boy often comes in tired and hungry and mum says she is struggling.", 4,
             ("physical_abuse",), answers={"prof_injury": "yes"}),
    Vignette("Year 6 girl has been very withdrawn and her behaviour has changed.", 4,
             ("child_disclosure",), answers={"prof_disclosure": "yes"}),
    Vignette("Year 1 boy is often late and his behaviour is hard to manage, mum needs help "
             "with routines.", 3, ("parents_not_engaging",),
             answers={"prof_parents": "not_engaging"}),
]


@pytest.fixture(scope="module")
def journey() -> Journey:
    return Journey.from_data(load_profile().journeys["professional"])


@pytest.fixture(scope="module")
def thresholds():
    return load_thresholds()


def answers_for(vignette: Vignette) -> dict:
    analysis = nlu.analyse(vignette.text).to_dict()
    answers: dict = {"prof_question": {"text": vignette.text, "nlu": {
        key: analysis.get(key, []) for key in ("indicators", "evidence", "entities")}}}
    if vignette.age is not None:
        answers["prof_child_age"] = {"text": str(vignette.age),
                                     "value": {"dob": None, "age": vignette.age}}
    for step, choice in vignette.answers.items():
        answers[step] = {"choice": choice}
    return answers


def test_there_are_enough_vignettes_across_all_levels():
    assert len(VIGNETTES) >= 30
    assert {v.level for v in VIGNETTES} == {1, 2, 3, 4}
    assert any(v.answers for v in VIGNETTES) and any(v.age is not None for v in VIGNETTES)


@pytest.mark.parametrize("vignette", VIGNETTES, ids=lambda v: v.text[:40])
def test_vignette_gets_the_expected_level_route_and_named_indicators(vignette, journey,
                                                                   thresholds):
    result = guidance.assess(thresholds, journey, answers_for(vignette))
    assert result.level == vignette.level, (result.level, result.reasons)
    assert ROUTES[vignette.level] in result.route
    for indicator in vignette.indicators:
        assert indicator in result.indicators, (indicator, result.indicators)
    text = guidance.render(result, translator("en"), {}, "A qualified social worker decides.")
    labels = {i.id: i.label for i in thresholds.indicators.values()}
    for indicator in vignette.indicators:
        assert labels[indicator] in text
    assert "qualified social worker" in text
