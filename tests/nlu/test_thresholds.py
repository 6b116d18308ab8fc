"""The threshold profile and the level calculation."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import analyse
from nlu.pipeline import Analyser
from nlu.thresholds import default_profile_dir, load_thresholds

EXPECTED_DOMAINS = {"child_development", "parenting_capacity", "family_environment"}


def test_profile_shape() -> None:
    t = load_thresholds()
    assert set(t.levels) == {1, 2, 3, 4}
    assert "999" in t.levels[4].route and "01895 556006" in t.levels[4].route
    assert set(t.domains) == EXPECTED_DOMAINS
    assert {i.level for i in t.indicators.values()} == {1, 2, 3, 4}
    assert {"under_5", "additional_needs", "protective_factors"} <= set(t.modifiers)
    # every indicator has English cues or is raised by a lexicon rule
    for lang in ("en", "pl", "ro", "ar", "ur", "pa", "so", "pt", "ta", "gu", "bn", "uk", "ps",
                 "fa", "es", "fr"):
        assert lang in t.languages(), lang


def test_every_indicator_used_by_rules_exists() -> None:
    from nlu.lexicon import load_lexicon_data

    t = load_thresholds()
    for lang, data in load_lexicon_data().items():
        for rule in data["rules"]:
            for key in ("indicator", "past_indicator"):
                if rule.get(key):
                    assert rule[key] in t.indicators, (lang, rule["id"], rule[key])


def test_assess_levels_and_modifiers() -> None:
    t = load_thresholds()
    assert t.assess([]).level is None
    assert t.assess(["speech_language_delay"]).level == 2
    assert t.assess(["persistent_absence"]).level == 3
    assert t.assess(["physical_abuse"]).level == 4
    # several additional needs across domains: complex needs
    many = t.assess(["speech_language_delay", "financial_hardship", "parenting_support"])
    assert many.level == 3 and any("several" in r for r in many.reasons)
    # under 5 raises a flagged level-3 need, not an unflagged one
    assert t.assess(["parental_substance_misuse"], ["under_5"]).level == 4
    assert t.assess(["parent_in_prison"], ["under_5"]).level == 3
    assert t.assess(["parental_substance_misuse"], ages=[1]).level == 4
    # protective factors lower level 3 but never level 4
    assert t.assess(["parent_in_prison"], ["protective_factors"]).level == 2
    assert t.assess(["sexual_abuse"], ["protective_factors"]).level == 4
    assert t.assess(["persistent_absence"]).route.startswith("Targeted")


def test_analysis_reports_reasons_and_route() -> None:
    result = analyse("I'm a teacher: year 8 pupil, attendance 55%, parents not answering")
    assert result.level == 3
    assert "persistent_absence" in result.indicators
    assert any(r.startswith("route:") for r in result.reasons)


def test_level_one_for_own_family_universal_question() -> None:
    assert analyse("my daughter starts nursery in january, is there funding?").level == 1
    assert analyse("what are your opening hours?").level is None


def test_profile_dir_argument_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_profile_dir().name == "hillingdon"
    monkeypatch.setenv("FRONTDOOR_PROFILE", "elsewhere")
    assert default_profile_dir().name == "elsewhere"
    monkeypatch.delenv("FRONTDOOR_PROFILE")
    source = (default_profile_dir() / "thresholds.yaml").read_text(encoding="utf-8")
    (tmp_path / "thresholds.yaml").write_text(
        source.replace("Level 4: acute need", "Level 4: ACUTE"), encoding="utf-8")
    custom = load_thresholds(tmp_path)
    assert custom.levels[4].name.startswith("Level 4: ACUTE")
    other = Analyser(profile_dir=tmp_path).load()
    assert other.analyse("my dad hits me").level == 4
