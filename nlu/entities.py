"""Structured facts in free text: ages, dates and dates of birth, UK postcodes and phone
numbers, NHS numbers (modulus-11 checked) and school names.

Everything is regular-expression based and language-light: the forms people type are
mostly digits, and age words are listed for each supported language.
"""

from __future__ import annotations

import re
from datetime import date

import phonenumbers

from nlu.text import normalise_with_map
from nlu.types import Entity

_B = r"(?<![\w/])"
_E = r"(?![\w/])"
POSTCODE_RE = re.compile(
    rf"{_B}(gir ?0aa|[a-pr-uwyz](?:[a-hk-y]?\d[a-z\d]?|\d[a-hjkps-uw]))"
    rf"\s*(\d[abd-hjlnp-uw-z]{{2}}){_E}",
    re.IGNORECASE,
)
PHONE_RE = re.compile(r"(?<![\d+])(?:\+44|0044|\(?0)[\d\s\-()]{8,14}\d(?!\d)")
NHS_RE = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
}
_NUM = r"(\d{1,2}|" + "|".join(_WORD_NUMBERS) + r")"
# Units after the number, for every supported language (normalised: no diacritics).
_YEARS = (
    r"(?:-| )?(?:yo|y/?o|yrs?|years?|yr|year-old|years-old|lat[aek]?|latka|latek|letni\w*|"
    r"rok|roczn\w*|ani|anisor|de ani|anos|ans|an|anys|años|jir|sano|sanadood|sal|saal|sala|"
    r"saala|sali|"
    r"saalan|saal ka|saal ki|baras|varsh|варс|рок\w*|рiк|рік|років|роки|лет|"
    r"سال\w*|ساله|سنوات|سنه|سنین|عام|اعوام|برس|کلن\w*|کالن\w*|کال|"
    r"ਸਾਲ\w*|வயது|வயசு|வருடம்|વર્ષ\w*|વરસ\w*|বছর\w*)"
)
_MONTHS_UNIT = r"(?:-| )?(months?|mths?|mo|weeks?|wks?|miesi\w+|luni|meses|mois|bilood)"
AGE_RES = [
    re.compile(rf"{_B}{_NUM}{_YEARS}(?:[ -]old)?{_E}"),
    re.compile(rf"{_B}(?:aged?|age of|ages|wiek|varsta de|edad de|idade de|age de) {_NUM}{_E}"),
    re.compile(
        rf"{_B}(?:(?:she|he|they|son|daughter|baby|child|kid|boy|girl|brother|sister)"
        rf"(?:s| is| are| who is)|im|i am|(?:ja )?mam|tengo|j ai|jai|eu tenho|am) "
        rf"(?:only |just |about |nearly |almost )?{_NUM}{_E}(?! ?(?:am|pm|%|"
        rf"foot|feet|ft|cm|kg|times|oclock|minutes|mins|hours|days|weeks|months|\.\d|:))"),
    re.compile(rf"{_B}(?:ma|are|tiene|tem|a|ay|dhalay|jirta|عمره|عمرها|عمر) {_NUM} ?{_YEARS}{_E}"),
    re.compile(rf"{_B}(?:عمره|عمرها|عمرش|عمرو) {_NUM}{_E}"),
    re.compile(rf"{_B}(?:aged? |age |wiek )?(\d{{1,2}}) ?yo{_E}"),
]
MONTHS_AGE_RE = re.compile(rf"{_B}{_NUM}{_MONTHS_UNIT}(?:[ -]old)?{_E}")
_MONTH_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH_WORD = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
               r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
DATE_NUMERIC_RE = re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?![\d/.-])")
DATE_WORDS_RE = re.compile(
    rf"{_B}(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? {_MONTH_WORD}\.?(?:,? (\d{{4}}))?{_E}")
DATE_WORDS_US_RE = re.compile(
    rf"{_B}{_MONTH_WORD}\.? (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?{_E}")
DOB_CUE_RE = re.compile(r"(?:\bdob\b|\bd\.o\.b\.?|date of birth|born(?: on)?|urodzon\w*|"
                        r"nascut\w*|nacid[oa]|nascid[oa]|ne le|nee le|dhashay)[:\s]*$")
SCHOOL_RE = re.compile(
    r"\b((?:St\.? |Saint )?(?:[A-Z][\w'\u2019-]+ ){0,4}?(?:[A-Z][\w'\u2019-]+) "
    r"(?:(?:C of E|CE|RC|Catholic|Church of England) )?"
    r"(?:Primary|Infant|Infants|Junior|Secondary|High|Grammar|Academy|School|College|Nursery)"
    r"(?: (?:School|Academy|Academies|College))?)\b")
_SCHOOL_STOP = {"My", "The", "At", "His", "Her", "A", "Our", "Their", "This", "That", "In",
                "To", "From", "Secondary", "Primary", "High", "Junior", "Infant", "Nursery",
                "Your", "Which", "What", "Local", "New", "Old", "Private", "State", "Special",
                "Main", "Middle", "Grammar", "Academy", "I", "We", "He", "She", "Is",
                "Does", "Do", "Can", "SEN", "Send"}


def nhs_check_digit_ok(digits: str) -> bool:
    """The NHS number modulus-11 check (a remainder giving 10 means "never issued")."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _num(value: str) -> int:
    return _WORD_NUMBERS[value] if value in _WORD_NUMBERS else int(value)


def _year(value: str | None) -> int | None:
    if not value:
        return None
    year = int(value)
    if year < 100:
        year += 2000 if year <= date.today().year % 100 + 1 else 1900
    return year


def _iso(day: int, month: int, year: int | None) -> str | None:
    try:
        date(year or 2000, month, day)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


class _Collector:
    """Collects entities without letting one stretch of text count twice."""

    def __init__(self, original: str, offsets: list[int]) -> None:
        self.original = original
        self.offsets = offsets
        self.taken: list[tuple[int, int]] = []
        self.found: list[tuple[int, Entity]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in self.taken)

    def add(self, kind: str, start: int, end: int, value: str | int, *,
            original_offsets: bool = False) -> None:
        if not self.free(start, end):
            return
        self.taken.append((start, end))
        if original_offsets:
            text = self.original[start:end]
        else:
            text = self.original[self.offsets[start]:self.offsets[end - 1] + 1]
        self.found.append((start, Entity(kind, text.strip(), value)))


def extract(text: str, normalised: tuple[str, list[int]] | None = None
            ) -> tuple[Entity, ...]:
    """All entities in ``text`` in reading order (``normalised``: a ready
    ``normalise_with_map(text)`` result, to save doing it twice)."""
    norm, offsets = normalised or normalise_with_map(text)
    col = _Collector(text, offsets)
    _identifiers(norm, col)
    _dates(norm, col)
    _ages(norm, col)
    _schools(text, norm, offsets, col)
    col.found.sort(key=lambda item: item[0])
    return tuple(e for _pos, e in col.found)


def _identifiers(norm: str, col: _Collector) -> None:
    for m in NHS_RE.finditer(norm):
        digits = "".join(m.groups())
        if nhs_check_digit_ok(digits):
            col.add("nhs_number", m.start(), m.end(), digits)
    for m in PHONE_RE.finditer(norm):
        raw = m.group(0).strip()
        try:
            parsed = phonenumbers.parse(raw, "GB")
        except phonenumbers.NumberParseException:
            continue
        # "Possible" rather than "valid": Ofcom's drama ranges (07700 900xxx) and new
        # allocations are real to the person typing them.
        if phonenumbers.is_possible_number(parsed) and len(str(parsed.national_number)) >= 9:
            value = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            col.add("phone", m.start(), m.start() + len(m.group(0).rstrip()), value)
    for m in POSTCODE_RE.finditer(norm):
        value = f"{m.group(1).upper()} {m.group(2).upper()}"
        col.add("postcode", m.start(), m.end(), value)


def _dates(norm: str, col: _Collector) -> None:
    found: list[tuple[int, int, str]] = []
    for m in DATE_NUMERIC_RE.finditer(norm):
        iso = _iso(int(m.group(1)), int(m.group(2)), _year(m.group(3)))
        if iso:
            found.append((m.start(), m.end(), iso))
    for m in DATE_WORDS_RE.finditer(norm):
        iso = _iso(int(m.group(1)), _MONTH_NAMES[m.group(2)[:4].rstrip("e")
                   if m.group(2).startswith("sept") else m.group(2)[:3]], _year(m.group(3)))
        if iso:
            found.append((m.start(), m.end(), iso))
    for m in DATE_WORDS_US_RE.finditer(norm):
        iso = _iso(int(m.group(2)), _MONTH_NAMES[m.group(1)[:3]], _year(m.group(3)))
        if iso:
            found.append((m.start(), m.end(), iso))
    for start, end, iso in found:
        before = norm[max(0, start - 24):start]
        kind = "dob" if DOB_CUE_RE.search(before) else "date"
        col.add(kind, start, end, iso)


def _ages(norm: str, col: _Collector) -> None:
    for m in MONTHS_AGE_RE.finditer(norm):  # first: "6 weeks old" is not 6 years
        n = _num(m.group(1))
        if n <= 36:
            col.add("age", m.start(), m.end(), 0 if m.group(2).startswith("w") else n // 12)
    for regex in AGE_RES:
        for m in regex.finditer(norm):
            age = _num(m.group(1))
            if age <= 25:
                col.add("age", m.start(), m.end(), age)


def _schools(text: str, norm: str, offsets: list[int], col: _Collector) -> None:
    for m in SCHOOL_RE.finditer(text):
        words = m.group(1).split()
        while words and words[0] in _SCHOOL_STOP:
            words = words[1:]
        if len(words) < 2:
            continue
        name = " ".join(words)
        start = m.start() + m.group(1).index(words[0])
        # Map original offsets to normalised ones for the overlap bookkeeping.
        n_start = next((i for i, o in enumerate(offsets) if o >= start), len(norm))
        n_end = next((i for i, o in enumerate(offsets) if o >= m.end()), len(norm))
        if col.free(n_start, n_end):
            col.taken.append((n_start, n_end))
            col.found.append((n_start, Entity("school", name, name)))


def ages(entities: tuple[Entity, ...]) -> list[int]:
    return [int(e.value) for e in entities if e.kind == "age"]
