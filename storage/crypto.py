"""Data keys for encryption at rest (issue 7, item 5).

Free text and identifiers are Fernet tokens in the database (AES-128-CBC with HMAC-SHA256, a
random IV per value). The keys come from FRONTDOOR_DATA_KEYS, comma-separated, newest first:
the newest encrypts, every key decrypts. That is what makes rotation safe: put a new key
first, restart, run `frontdoor keys rotate`, then drop the old key.

The embedded SQLite default keeps a generated key in a file beside the database (mode 0600),
so `frontdoor run` on a fresh machine just works and its data survives a restart. PostgreSQL
never falls back to a file: production keys belong to the operator's secret store. A key
that changed at every start (as a random per-run secret would) would make the data unreadable.

Keys are never logged or put in an error message; messages name where the keys came from.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import URL, Dialect, make_url

log = logging.getLogger("frontdoor.crypto")

ENV = "FRONTDOOR_DATA_KEYS"
KEY_FILE_SUFFIX = ".keys"
# Every Fernet token starts with the version byte 0x80, which is "gAAAAA" in base64.
TOKEN_PREFIX = "gAAAAA"  # noqa: S105 (a format marker, not a secret)

MISSING_ON_POSTGRES = (
    "FRONTDOOR_DATA_KEYS is not set. On PostgreSQL the key that encrypts personal data must "
    "come from the environment: run `frontdoor keys generate` and set FRONTDOOR_DATA_KEYS to "
    "the key it prints (keep a copy in the council's secret store; without it the data "
    "cannot be read)."
)

Status = Literal["current", "old", "unreadable"]


class DataKeyError(Exception):
    """An exact message for the operator. Never carries a key or a stored value."""


class Keyring:
    """The configured keys: one MultiFernet, built once and shared by every query."""

    def __init__(self, keys: list[bytes], source: str) -> None:
        if not keys:
            raise DataKeyError(f"{source} holds no data key.")
        self.source = source
        self._newest = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])
        self.count = len(keys)

    def encrypt(self, data: bytes) -> str:
        return self._newest.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._all.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(unreadable_message(self.source)) from None

    def status(self, token: str) -> Status:
        """Whether a stored value is on the newest key, an older one, or none of them."""
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            return "unreadable"
        try:
            self._newest.decrypt(raw)
            return "current"
        except InvalidToken:
            pass
        try:
            self._all.decrypt(raw)
            return "old"
        except InvalidToken:
            return "unreadable"

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key (raises DataKeyError if unreadable)."""
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(unreadable_message(self.source)) from None


def unreadable_message(source: str) -> str:
    return (
        f"Stored data cannot be decrypted with the keys from {source}: it was written with a "
        "key that is not configured. Put that key back in FRONTDOOR_DATA_KEYS (after the "
        "newest one) and restart; `frontdoor keys check` lists what cannot be read."
    )


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, source: str) -> list[bytes]:
    """Keys separated by commas or new lines; '#' starts a comment line (key files)."""
    keys: list[bytes] = []
    lines = [line for line in text.splitlines() if not line.strip().startswith("#")]
    for part in ",".join(lines).split(","):
        key = part.strip()
        if not key:
            continue
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise DataKeyError(
                f"Entry {len(keys) + 1} of {source} is not a data key: each key is 44 "
                "URL-safe base64 characters, as printed by `frontdoor keys generate`."
            ) from None
        keys.append(key.encode("ascii"))
    return keys


@lru_cache(maxsize=8)
def _from_environment(text: str) -> Keyring:
    return Keyring(parse_keys(text, ENV), ENV)


def key_file_for(database: str) -> Path:
    """data/frontdoor.sqlite3 -> data/frontdoor.keys."""
    return Path(database).with_suffix(KEY_FILE_SUFFIX)


_announced: set[Path] = set()


def _create_key_file(path: Path) -> None:
    """Write a new key file, atomically: two processes starting at once end up sharing one
    key, and neither reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("# Front Door data keys, newest first. Losing this file loses the data.\n")
            handle.write(generate_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)  # fails if another process made one first: theirs is used
        log.warning("data key: generated a new local key file (%s); back it up", path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)


def _from_file(path: Path) -> Keyring:
    source = f"the key file {path}"
    if not path.exists():
        _create_key_file(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("data key: %s can be read by other users; chmod 600 it", path)
    keyring = Keyring(parse_keys(path.read_text(encoding="ascii"), source), source)
    if path not in _announced:
        _announced.add(path)
        log.info("data key: FRONTDOOR_DATA_KEYS is empty, using the local key file %s", path)
    return keyring


def keyring_for(url: str | URL) -> Keyring:
    """The keys for a database: the environment first, else the SQLite key file."""
    text = os.environ.get(ENV, "").strip()
    if text:
        return _from_environment(text)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise DataKeyError(MISSING_ON_POSTGRES)
    database = parsed.database
    if database in (None, "", ":memory:"):
        # Nothing outlives the process, so neither does its key.
        return Keyring([Fernet.generate_key()], "a key for this in-memory database")
    return _from_file(key_file_for(str(database)))


# Each engine has its own dialect object; column types find their keys through it, so two
# databases with different keys can be open in one process (the CLI, tests).
_bound: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def bind(dialect: Dialect, keyring: Keyring) -> None:
    _bound[dialect] = keyring


def keyring_of(dialect: Dialect) -> Keyring:
    try:
        return _bound[dialect]
    except KeyError:
        raise DataKeyError(
            "This database connection has no data key: open databases with "
            "storage.db.Database, which loads FRONTDOOR_DATA_KEYS."
        ) from None
