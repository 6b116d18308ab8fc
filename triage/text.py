"""Text that the databases cannot store is refused up front, not turned into a 500.

PostgreSQL rejects NUL characters in text and JSONB, and a lone UTF-16 surrogate (which JSON
can carry) cannot be encoded as UTF-8 at all.
"""

from __future__ import annotations


def bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: str) -> str:
    """Free text made storable: NUL characters dropped, lone surrogates replaced."""
    value = value.replace("\x00", "")
    return value.encode("utf-8", "replace").decode("utf-8") if bad_text(value) else value
