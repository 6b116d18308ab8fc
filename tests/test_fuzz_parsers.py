"""Property-based fuzzing of the answer parsers and postcode routing (issue 7, item 4).

Every parser, for any text at all, either returns a value or raises `Invalid` - never any
other exception - and what it returns keeps its invariants. Valid inputs, generated from
their definitions (check digits computed, dates written in every format we claim to read),
are accepted.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows import answers as parse
from flows.answers import Invalid
from flows.postcodes import Route, route
from profiles import load_profile

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
TODAY = date(2026, 3, 14)

# --- strategies -----------------------------------------------------------------------------

ODD = ["\u200f", "\u200e", "\u202e", "\u2066", "\u200b", "\ufeff", "\x00", "\x1b", "\x85",
       "\u00a0", "\u3000", "\n", "\r", "\t", "\u0301", "İ", "ß", "ſ", "ﬀ", "٣", "۹", "９",
       "²", "½", "ⅷ", "\ud7ff", "\U0001f600", "\u2028", "\u0660"]
odd_chars = st.sampled_from(ODD)
any_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.text(alphabet=st.one_of(
        odd_chars, st.sampled_from("0123456789 /-.,%@+ABCDEFGHJKLMNPRSTUWXYZ")), max_size=30),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=20), st.integers(100, 400)),
    st.builds(lambda a, b: a * b, st.sampled_from(["1", "9", "a", " ", "\u202e", "٣", "/"]),
              st.integers(1, 6000)),
)


def sprinkle(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid answer with invisible / direction / control characters and spaces around it."""
    junk = st.text(alphabet=st.sampled_from(["\u200f", "\u200e", "\u202a", "\u2069", "\u200b",
                                             "\x00", "\x07", " ", "\t"]), max_size=3)
    return st.builds(lambda a, v, b: a + v + b, junk, valid, junk)


def returns_or_invalid(fn, *args, **kwargs):
    """Call a parser; None when it refuses with `Invalid`. Any other exception propagates."""
    try:
        return fn(*args, **kwargs)
    except Invalid as exc:
        assert isinstance(exc.message, str) and exc.message
        return None


# What must never survive cleaning: controls, zero-width space, direction overrides/isolates.
# (Joiners and LRM/RLM are ordinary parts of Persian, Urdu and Indic words.)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069]")
ASCII_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


# --- any text: Invalid or a value with its invariants ---------------------------------------

@FUZZ
@given(any_text, st.integers(1, 10), st.integers(10, 5000))
def test_parse_text_never_crashes(text, min_length, max_length):
    out = returns_or_invalid(parse.parse_text, text, min_length=min_length,
                             max_length=max_length)
    if out is not None:
        assert min_length <= len(out) <= max_length
        assert parse.has_words(out) and not _CONTROL.search(out)
        assert out == out.strip()  # idempotence: test_clean_text_is_nfc_and_idempotent


@FUZZ
@given(any_text)
def test_parse_name_never_crashes(text):
    out = returns_or_invalid(parse.parse_name, text)
    if out is not None:
        assert 1 <= len(out) <= 80 and not _CONTROL.search(out)


@FUZZ
@given(any_text)
def test_parse_date_never_crashes(text):
    out = returns_or_invalid(parse.parse_date, text)
    assert out is None or isinstance(out, date)


@FUZZ
@given(any_text, st.integers(0, 120))
def test_parse_dob_or_age_never_crashes(text, max_age):
    out = returns_or_invalid(parse.parse_dob_or_age, text, today=TODAY, max_age=max_age)
    if out is not None:
        assert 0 <= out.age <= max_age and not out.unborn
        if out.dob is not None:
            assert out.dob <= TODAY, "a date of birth in the future was accepted"
            assert out.age == parse.age_on(out.dob, TODAY)
        out.to_json()


@FUZZ
@given(any_text, st.integers(-5, 50), st.integers(0, 999))
def test_parse_number_never_crashes(text, minimum, span):
    out = returns_or_invalid(parse.parse_number, text, minimum=minimum, maximum=minimum + span)
    if out is not None:
        assert isinstance(out, int) and minimum <= out <= minimum + span


@FUZZ
@given(any_text)
def test_parse_postcode_never_crashes_and_routes(text):
    out = returns_or_invalid(parse.parse_postcode, text)
    if out is not None:
        assert ASCII_POSTCODE.match(out) and parse._POSTCODE.match(out)
        assert parse.parse_postcode(out) == out
        assert isinstance(route(PROFILE, out), Route)


@FUZZ
@given(any_text)
def test_parse_phone_never_crashes(text):
    out = returns_or_invalid(parse.parse_phone, text)
    if out is not None:
        assert E164.match(out), out
        assert parse.parse_phone(out) == out


@FUZZ
@given(any_text)
def test_parse_email_never_crashes(text):
    out = returns_or_invalid(parse.parse_email, text)
    if out is not None:
        assert out == out.lower() and out.count("@") == 1 and len(out) <= 254
        assert parse.parse_email(out) == out


@FUZZ
@given(any_text)
def test_parse_upn_never_crashes(text):
    out = returns_or_invalid(parse.parse_upn, text)
    if out is not None:
        assert len(out) == 13 and parse.upn_check_letter(out[1:]) == out[0]


@FUZZ
@given(any_text)
def test_parse_nhs_number_never_crashes(text):
    out = returns_or_invalid(parse.parse_nhs_number, text)
    if out is not None:
        digits = [int(c) for c in out.replace(" ", "")]
        assert len(digits) == 10
        assert sum(d * w for d, w in zip(digits, range(10, 0, -1), strict=True)) % 11 == 0
        assert digits[9] != 10


@FUZZ
@given(any_text)
def test_parse_percent_never_crashes(text):
    out = returns_or_invalid(parse.parse_percent, text)
    if out is not None:
        assert isinstance(out, float) and 0 <= out <= 100 and out == round(out, 1)


@FUZZ
@given(any_text)
def test_parse_past_date_never_crashes(text):
    out = returns_or_invalid(parse.parse_past_date, text, today=TODAY)
    assert out is None or out <= TODAY


# --- cleaned text is NFC and cleaning is idempotent ------------------------------------------
# clean_text normalises to NFC *before* dropping control / direction / zero-width characters,
# so a mark between a letter and its combining accent ("A", U+001F, U+0300) leaves the pair
# decomposed: the stored answer is not NFC and cleaning it again changes it ("À").

@FUZZ
@example("A\x1f\u0300")
@example("Jose\u200b\u0301")
@given(any_text)
def test_clean_text_is_nfc_and_idempotent(text):
    import unicodedata

    out = parse.clean_text(text)
    assert unicodedata.is_normalized("NFC", out), ascii(out)
    assert parse.clean_text(out) == out, ascii(out)


# --- identifiers are stored in canonical ASCII ----------------------------------------------
# Persian/Arabic-Indic or full-width digits are what a Farsi, Pashto or Arabic keyboard (or a
# Japanese IME) types. The parsers accept them (Python's \d and int() are Unicode-aware) but
# return them unchanged, so the handover carries e.g. "۹۴۳ ۴۷۶ ۵۹۱۹" for an NHS number, which
# no NHS or school system will match. Phone numbers (phonenumbers) and postcodes ([0-9]) are
# already normalised to ASCII.

@FUZZ
@example("۹۴۳۴۷۶۵۹۱۹")
@given(any_text)
def test_nhs_number_returned_in_ascii_digits(text):
    out = returns_or_invalid(parse.parse_nhs_number, text)
    if out is not None:
        assert re.fullmatch(r"[0-9]{3} [0-9]{3} [0-9]{4}", out), out


@FUZZ
@example("H٨01200001001")
@given(any_text)
def test_upn_returned_in_ascii(text):
    out = returns_or_invalid(parse.parse_upn, text)
    if out is not None:
        assert re.fullmatch(r"[A-Z][0-9]{11}[0-9A-Z]", out), out


# --- valid inputs are accepted --------------------------------------------------------------

PROFILE = load_profile()
nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@st.composite
def nhs_numbers(draw):
    nine = draw(nine_digits.filter(lambda n: parse.nhs_check_digit(n) is not None))
    return nine + str(parse.nhs_check_digit(nine))


@FUZZ
@given(nhs_numbers(), st.sampled_from(["{a}{b}{c}", "{a} {b} {c}", "{a}-{b}-{c}",
                                       " {a} {b}  {c} ", "{a}\u200f{b}{c}"]))
def test_valid_nhs_numbers_are_accepted(number, layout):
    typed = layout.format(a=number[:3], b=number[3:6], c=number[6:])
    assert parse.parse_nhs_number(typed) == f"{number[:3]} {number[3:6]} {number[6:]}"
    # A single wrong digit is always caught by modulus 11.
    i = 4
    wrong = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:]
    assert returns_or_invalid(parse.parse_nhs_number, wrong) is None


@st.composite
def upns(draw):
    body = draw(st.text(alphabet="0123456789", min_size=11, max_size=11))
    last = draw(st.one_of(st.sampled_from("0123456789"), st.sampled_from(parse._UPN_LETTERS)))
    body += last
    return parse.upn_check_letter(body) + body


@FUZZ
@given(upns(), st.booleans())
def test_valid_upns_are_accepted(upn, lower):
    typed = upn.lower() if lower else f" {upn[:5]} {upn[5:]} "
    assert parse.parse_upn(typed) == upn


# Postcodes: every outward-code shape the pattern allows, letters from the allowed sets.
FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"
SECOND = "ABCDEFGHKLMNOPQRSTUVWXY"
THIRD_A9A = "ABCDEFGHJKPSTUW"
FOURTH_AA9A = "ABEHMNPRVWXY"
INWARD = "ABDEFGHJLNPQRSTUWXYZ"
digit = st.sampled_from("0123456789")


@st.composite
def postcodes(draw):
    shape = draw(st.sampled_from(["A9", "A99", "AA9", "AA99", "A9A", "AA9A"]))
    c = {
        "A9": lambda: draw(st.sampled_from(FIRST)) + draw(digit),
        "A99": lambda: draw(st.sampled_from(FIRST)) + draw(digit) + draw(digit),
        "AA9": lambda: draw(st.sampled_from(FIRST)) + draw(st.sampled_from(SECOND)) + draw(digit),
        "AA99": lambda: (draw(st.sampled_from(FIRST)) + draw(st.sampled_from(SECOND))
                         + draw(digit) + draw(digit)),
        "A9A": lambda: (draw(st.sampled_from(FIRST)) + draw(digit)
                        + draw(st.sampled_from(THIRD_A9A))),
        "AA9A": lambda: (draw(st.sampled_from(FIRST)) + draw(st.sampled_from(SECOND))
                         + draw(digit) + draw(st.sampled_from(FOURTH_AA9A))),
    }[shape]()
    inward = draw(digit) + draw(st.sampled_from(INWARD)) + draw(st.sampled_from(INWARD))
    return f"{c} {inward}"


@FUZZ
@example("UB8 1QS", "{o}{i}", True)
@example("GIR 0AA", "{o} {i}", False)
@given(postcodes(), st.sampled_from(["{o} {i}", "{o}{i}", " {o}  {i} ", "{o}\u00a0{i}",
                                     "{o}\u200e{i}"]), st.booleans())
def test_valid_postcodes_are_accepted_and_routed(postcode, layout, lower):
    outward, inward = postcode.split(" ")
    typed = layout.format(o=outward, i=inward)
    typed = typed.lower() if lower else typed
    out = parse.parse_postcode(typed)
    assert out == postcode
    r = route(PROFILE, out)
    assert r.postcode == out and r.district == outward
    if r.in_borough:
        assert r.locality in {loc.id for loc in PROFILE.localities}
    else:
        assert r.council is not None


def test_borough_postcodes_route_to_a_locality():
    for district in PROFILE.postcodes["districts"]:
        r = route(PROFILE, parse.parse_postcode(f"{district} 1AA"))
        assert r.locality is not None or r.council is not None


MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]


def written(d: date, fmt: str, short: bool, caps: bool) -> str:
    month = MONTHS[d.month - 1]
    month = month[:3] if short else month
    month = month.capitalize() if caps else month
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(d.day, "th")
    return fmt.format(d=d.day, dd=f"{d.day:02d}", m=d.month, mm=f"{d.month:02d}", y=d.year,
                      yy=f"{d.year % 100:02d}", mon=month, sfx=suffix)


DATE_FORMATS = ["{dd}/{mm}/{y}", "{d}/{m}/{y}", "{dd}-{mm}-{y}", "{dd}.{mm}.{y}",
                "{d} {m} {y}", "{y}-{mm}-{dd}", "{y}-{m}-{d}", "{d} {mon} {y}",
                "{d}{sfx} {mon} {y}", "{d}{sfx} of {mon} {y}", "{mon} {d}, {y}",
                "{mon} {d}{sfx} {y}", "{d} {mon}. {y}", "{mon}. {d} {y}", "{d} {mon}, {y}"]


@FUZZ
@given(st.dates(date(1000, 1, 1), date(9999, 12, 31)), st.sampled_from(DATE_FORMATS),
       st.booleans(), st.booleans())
def test_valid_dates_are_accepted_in_every_format(d, fmt, short, caps):
    typed = written(d, fmt, short, caps)
    assert parse.parse_date(typed) == d, typed


@FUZZ
@given(st.dates(date(1950, 1, 1), date(2049, 12, 31)),
       st.sampled_from(["{dd}/{mm}/{yy}", "{d}/{m}/{yy}", "{dd}.{mm}.{yy}"]))
def test_two_digit_years_pivot_on_this_year(d, fmt):
    pivot = date.today().year % 100
    yy = d.year % 100
    expected_year = (2000 if yy <= pivot else 1900) + yy
    assert parse.parse_date(written(d, fmt, False, False)) == d.replace(year=expected_year)


@FUZZ
@given(st.integers(0, 25 * 366), sprinkle(st.sampled_from(["{dd}/{mm}/{y}", "{d} {mon} {y}",
                                                           "{y}-{mm}-{dd}"])))
def test_dates_of_birth_in_the_past_25_years_are_accepted(days_ago, fmt):
    born = TODAY - timedelta(days=days_ago)
    got = parse.parse_dob_or_age(written(born, fmt, False, True), today=TODAY)
    assert got.dob == born and got.age == parse.age_on(born, TODAY) <= 25


@FUZZ
@given(st.integers(1, 3000))
def test_future_dates_of_birth_are_refused(days_ahead):
    born = TODAY + timedelta(days=days_ahead)
    assert returns_or_invalid(parse.parse_dob_or_age, born.strftime("%d/%m/%Y"),
                              today=TODAY) is None
    assert returns_or_invalid(parse.parse_past_date, born.isoformat(), today=TODAY) is None


@FUZZ
@given(st.integers(0, 25), st.sampled_from(["{n}", "{n} years", "{n} yrs old", "aged {n}",
                                           "{n} years old", "{n}yo", "age {n}", "{n} y/o"]))
def test_ages_are_accepted(n, fmt):
    assert parse.parse_dob_or_age(fmt.format(n=n), today=TODAY) == parse.DateOrAge(None, n)


@FUZZ
@given(st.integers(0, 11 * 25))
def test_ages_in_months(months):
    assert parse.parse_dob_or_age(f"{months} months", today=TODAY).age == months // 12


@FUZZ
@given(st.integers(0, 999), st.integers(0, 999))
def test_numbers_in_range_are_accepted(n, other):
    low, high = sorted((n, other))
    assert parse.parse_number(f" {n} ", minimum=min(low, n), maximum=max(high, n)) == n
    assert parse.parse_number(f"{n} years old", minimum=0, maximum=999) == n


@FUZZ
@given(st.decimals(0, 100, places=2, allow_nan=False), st.sampled_from(["{v}", "{v}%",
                                                                       "{v} %", " {v}% "]),
       st.booleans())
def test_percentages_are_accepted(value, fmt, comma):
    text = fmt.format(v=value)
    text = text.replace(".", ",") if comma else text
    assert parse.parse_percent(text) == round(float(value), 1)


@FUZZ
@given(st.integers(100_000_000, 999_999_999),
       st.sampled_from(["07{n}", "+447{n}", "0044 7{n}", "07{a} {b}", "(07{a}) {b}"]))
def test_uk_mobiles_are_accepted_in_e164(n, fmt):
    digits = str(n)
    typed = fmt.format(n=digits, a=digits[:3], b=digits[3:])
    out = returns_or_invalid(parse.parse_phone, typed)
    if out is not None:  # not every 07 range is allocated; those that are must be E.164
        assert out == "+447" + digits


@FUZZ
@given(st.sampled_from(["01895 556006", "07911 123456", "+44 20 7946 0958", "020 7946 0958",
                        "+33 1 42 68 53 00", "+1 202 555 0143"]), st.booleans())
def test_known_phone_numbers_are_accepted(number, sprinkled):
    typed = f"\u200e{number}\u200f " if sprinkled else number
    out = parse.parse_phone(typed)
    assert E164.match(out) and out.endswith(re.sub(r"\D", "", number)[-9:])
    assert parse.parse_phone(out) == out


@FUZZ
@given(st.emails())
def test_emails_are_accepted(address):
    local, domain = address.rsplit("@", 1)
    if len(address) > 254 or not re.fullmatch(r"[A-Za-z0-9.-]+", domain) or \
            any(not parse.has_words(ch) and ch not in "!#$%&'*+-/=?^_`{|}~." for ch in local):
        return
    assert parse.parse_email(address) == address.lower()


def test_joiners_used_inside_persian_words_are_kept():
    from flows.answers import clean_text

    word = "می\u200cخواهم"  # "I want", with a zero-width non-joiner, as typed in Persian
    assert clean_text(word) == word
    assert clean_text("Sam\u202eevil") == "Samevil"  # a direction override is removed
