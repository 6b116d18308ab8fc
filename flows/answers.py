"""Parsing and checking typed answers. Each parser returns a value or raises `Invalid`.

`Invalid.message` is an English source string from the catalogs, so the re-ask is kind,
specific and translated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers

from flows.i18n import N_


class Invalid(ValueError):
    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


MAX_TEXT = 4000
# Control characters, the zero-width space and direction overrides/isolates (which could
# disguise text on an officer's screen). Joiners (U+200C/D) and the LRM/RLM marks stay: Persian,
# Urdu, Pashto and Indic scripts use them inside ordinary words.
_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2066-\u2069]"
)


def clean_text(text: str) -> str:
    """Drop control and direction-override characters, then normalise (NFC), trim.

    Removing first matters: a stray character between a letter and its accent would
    otherwise keep them apart, and the stored name would differ from the same name retyped.
    """
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def plain(text: str) -> str:
    """For dates, ages, numbers: invisible marks dropped, digits as 0-9."""
    return ascii_digits("".join(ch for ch in clean_text(text)
                                if unicodedata.category(ch) != "Cf"))


def identifier(text: str) -> str:
    """Postcodes, NHS numbers, UPNs: no spaces or invisible marks (pasted from right-to-left
    text), digits as 0-9, upper case."""
    kept = "".join(ch for ch in clean_text(text) if unicodedata.category(ch) != "Cf")
    return re.sub(r"\s+", "", ascii_digits(kept)).upper()


def ascii_digits(text: str) -> str:
    """Arabic-Indic, Persian, full-width... digits as 0-9: an NHS number typed on a Farsi
    keyboard must match the NHS's records."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def has_words(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def parse_text(text: str, *, min_length: int = 2, max_length: int = MAX_TEXT) -> str:
    text = clean_text(text)
    if not text or not has_words(text):
        raise Invalid(N_("Please type your answer in words."))
    if len(text) > max_length:
        raise Invalid(
            N_("That message is too long for me to take in one go. Please send a shorter "
               "answer, up to {limit} characters. You can add more details later."),
            limit=max_length,
        )
    if len(text) < min_length:
        raise Invalid(N_("Could you tell me a little more?"))
    return text


def parse_name(text: str) -> str:
    text = clean_text(text)
    if not text or not any(unicodedata.category(ch)[0] == "L" for ch in text):
        raise Invalid(N_("Please type a name, for example Sam."))
    if len(text) > 80:
        raise Invalid(N_("That is longer than a name usually is. Please type just the name."))
    return text


# --- dates and ages ---------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_WORD_DATE = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{4})$")
_WORD_DATE_US = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_AGE = re.compile(
    r"^(?:age\s*|aged\s*)?(\d{1,3})\s*(years?|yrs?|y|yo|y/o|year[- ]old|years old|months?|mths?|m)?"
    r"(?:\s*old)?$"
)


def _make_date(year: int, month: int, day: int, *, two_digit_year: bool = False) -> date:
    if two_digit_year:
        year += 2000 if year <= date.today().year % 100 else 1900
    try:
        return date(year, month, day)
    except ValueError:
        raise Invalid(N_("That date doesn't exist. Please check the day and month.")) from None


def parse_date(text: str) -> date:
    t = plain(text).lower()
    if m := _ISO_DATE.match(t):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _NUMERIC_DATE.match(t):  # UK order: day first
        return _make_date(int(m[3]), int(m[2]), int(m[1]), two_digit_year=len(m[3]) == 2)
    for pattern, (d, mo, y) in ((_WORD_DATE, (1, 2, 3)), (_WORD_DATE_US, (2, 1, 3))):
        if m := pattern.match(t):
            month = _MONTHS.get(m[mo][:3])
            if month:
                return _make_date(int(m[y]), month, int(m[d]))
    raise Invalid(N_("I couldn't read that as a date. Please type it like 14/03/2016."))


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True)
class DateOrAge:
    """A date of birth, or an age in years when the date isn't known; `unborn` for a pregnancy."""

    dob: date | None
    age: int | None
    unborn: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"dob": self.dob.isoformat() if self.dob else None, "age": self.age,
                "unborn": self.unborn}


def parse_dob_or_age(text: str, *, today: date | None = None, max_age: int = 25) -> DateOrAge:
    today = today or date.today()
    t = plain(text).lower()
    if m := _AGE.match(t):
        n, unit = int(m[1]), (m[2] or "")
        years = n // 12 if unit.startswith("m") and not unit.startswith("y") else n
        if years > max_age:
            raise Invalid(N_("Please check the age: it should be {limit} or under."), limit=max_age)
        return DateOrAge(dob=None, age=years)
    born = parse_date(t)
    if born > today:
        raise Invalid(N_("That date is in the future. If the baby isn't born yet, choose "
                         "'Not born yet'."))
    years = age_on(born, today)
    if years > max_age:
        raise Invalid(N_("Please check the date: the age should be {limit} or under."),
                      limit=max_age)
    return DateOrAge(dob=born, age=years)


def parse_number(text: str, *, minimum: int, maximum: int) -> int:
    t = plain(text)
    m = re.fullmatch(r"(\d{1,3})(?:\s*(?:years?|yrs?|y)(?:\s*old)?)?", t.lower())
    if not m:
        raise Invalid(N_("Please type a number, for example 14."))
    n = int(m[1])
    if not minimum <= n <= maximum:
        raise Invalid(N_("Please type a number between {low} and {high}."), low=minimum,
                      high=maximum)
    return n


# --- postcodes, phones, email -----------------------------------------------------------

_POSTCODE = re.compile(
    r"^(GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|"
    r"[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def parse_postcode(text: str) -> str:
    """A full UK postcode, normalised as 'UB8 1QS'."""
    t = identifier(text)
    if not _POSTCODE.match(t) or not 5 <= len(t) <= 7:
        raise Invalid(N_("That doesn't look like a full UK postcode. Please type it like "
                         "UB8 1QS."))
    return f"{t[:-3]} {t[-3:]}"


def parse_phone(text: str, *, region: str = "GB") -> str:
    """A valid phone number in E.164 form."""
    t = clean_text(text)
    try:
        number = phonenumbers.parse(t, region)
    except phonenumbers.NumberParseException:
        raise Invalid(N_("That doesn't look like a phone number. Please type it like "
                         "07911 123456.")) from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(N_("That phone number doesn't seem complete. Please check it and type "
                         "it again."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def parse_email(text: str) -> str:
    t = clean_text(text)
    if len(t) > 254 or not _EMAIL.match(t) or "." not in t.rsplit("@", 1)[1]:
        raise Invalid(N_("That doesn't look like an email address. Please type it like "
                         "name@example.org."))
    return t.lower()


# --- professional identifiers -------------------------------------------------------------

_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE check-letter alphabet (no I, O, S)


def upn_check_letter(body: str) -> str:
    """DfE Unique Pupil Number check letter for the 12 characters after it."""
    total = 0
    for weight, char in enumerate(body, start=2):
        total += weight * (int(char) if char.isdigit() else _UPN_LETTERS.index(char))
    return _UPN_LETTERS[total % 23]


def parse_upn(text: str) -> str:
    """A 13-character UPN: check letter, 11 digits, then a digit or (temporary UPN) a letter."""
    # Not `t`: pybabel (-k t) reads `t[0] ... (` as a call to the translator.
    upn = identifier(text)
    if not re.fullmatch(r"[A-Z][0-9]{11}[0-9A-Z]", upn) or upn[0] not in _UPN_LETTERS or (
        upn[-1].isalpha() and upn[-1] not in _UPN_LETTERS
    ):
        raise Invalid(N_("A UPN has 13 characters: a letter, 11 digits, then a digit or a "
                         "letter, for example H801200001001."))
    if upn_check_letter(upn[1:]) != upn[0]:
        raise Invalid(N_("That UPN's check letter doesn't match. Please check it and type it "
                         "again."))
    return upn


def nhs_check_digit(nine: str) -> int | None:
    """Modulus 11 check digit; None when no valid number has these nine digits."""
    remainder = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        return 0
    return None if check == 10 else check


def parse_nhs_number(text: str) -> str:
    digits = identifier(text).replace("-", "")
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise Invalid(N_("An NHS number has 10 digits, for example 943 476 5919."))
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        raise Invalid(N_("That NHS number doesn't pass its check. Please check it and type it "
                         "again."))
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def parse_percent(text: str) -> float:
    t = plain(text).replace(",", ".").rstrip("%").strip()
    try:
        value = float(t)
    except ValueError:
        raise Invalid(N_("Please type a percentage, for example 86 or 86.5%.")) from None
    if not 0 <= value <= 100:
        raise Invalid(N_("A percentage is between 0 and 100."))
    return round(value, 1)


def parse_past_date(text: str, *, today: date | None = None) -> date:
    found = parse_date(text)
    if found > (today or date.today()):
        raise Invalid(N_("That date is in the future. Please check it."))
    return found
