"""Entities: UK postcodes and phones, NHS numbers (modulus 11), ages, dates, schools."""

from __future__ import annotations

import pytest

from nlu import analyse
from nlu.entities import extract, nhs_check_digit_ok


def kinds(text: str) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for e in extract(text):
        out.setdefault(e.kind, []).append(e.value)
    return out


@pytest.mark.parametrize(("text", "value"), [
    ("we live at UB8 1QS", "UB8 1QS"),
    ("postcode ub31ab", "UB3 1AB"),
    ("HA4 7LW near Ruislip", "HA4 7LW"),
    ("it's w1a 1aa", "W1A 1AA"),
    ("TW6 2GA", "TW6 2GA"),
])
def test_postcodes(text: str, value: str) -> None:
    assert kinds(text)["postcode"] == [value]


def test_postcode_not_found_in_ordinary_words() -> None:
    assert "postcode" not in kinds("my son is 15 and in year 10")


@pytest.mark.parametrize(("text", "value"), [
    ("call me on 07700 900123", "+447700900123"),
    ("my number is +44 7911 123456", "+447911123456"),
    ("hub is 01895 556006", "+441895556006"),
    ("ring 020 7946 0018 please", "+442079460018"),
])
def test_phones(text: str, value: str) -> None:
    assert kinds(text)["phone"] == [value]


def test_nhs_number_modulus_11() -> None:
    assert nhs_check_digit_ok("9434765919")
    assert not nhs_check_digit_ok("9434765918")  # wrong check digit
    assert not nhs_check_digit_ok("1234567890")  # remainder 10: never issued
    assert kinds("NHS no 943 476 5919")["nhs_number"] == ["9434765919"]
    assert "nhs_number" not in kinds("NHS no 943 476 5918")


@pytest.mark.parametrize(("text", "age"), [
    ("she's 4", 4),
    ("my 6yo son", 6),
    ("he is 12 years old", 12),
    ("my four year old", 4),
    ("baby is 6 weeks old", 0),
    ("the toddler is 18 months", 1),
    ("I'm 15 and pregnant", 15),
    ("córka ma 5 lat", 5),
    ("tiene 3 años", 3),
    ("il a 7 ans", 7),
    ("meri beti 15 saal ki hai", 15),
    ("عمره 5 سنوات", 5),
    ("میرا بیٹا ۶ سال کا ہے", 6),
    ("gabadhayda 14 jir ah", 14),
])
def test_ages(text: str, age: int) -> None:
    assert kinds(text)["age"] == [age]


def test_dates_and_dob() -> None:
    found = kinds("DOB 12/03/2019, appointment on 3rd March and 14 Feb 2025")
    assert found["dob"] == ["2019-03-12"]
    assert found["date"] == ["--03-03", "2025-02-14"]
    assert kinds("born on 01.09.2015")["dob"] == ["2015-09-01"]
    assert "date" not in kinds("31/02/2020")  # no such day


def test_schools() -> None:
    assert kinds("he goes to Hillingdon Primary School")["school"] == [
        "Hillingdon Primary School"]
    assert kinds("at St Andrew's C of E Primary")["school"] == ["St Andrew's C of E Primary"]
    assert "school" not in kinds("my son hates school")


def test_entities_in_analysis_keep_original_text() -> None:
    result = analyse("my daughter (she's 4) lives at ub8 1qs, call 07700 900123")
    by_kind = {e.kind: e for e in result.entities}
    assert by_kind["age"].value == 4
    assert by_kind["postcode"].text == "ub8 1qs"
    assert by_kind["postcode"].value == "UB8 1QS"
    assert by_kind["phone"].value == "+447700900123"
