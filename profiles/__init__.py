"""Deployment profiles: one folder of data files per council.

Code reads the council's facts (numbers, localities, categories, outcomes, journeys) from here,
never from `if` chains, so a second council is a new folder, not a code change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROFILES_DIR = Path(__file__).resolve().parent


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass(frozen=True)
class Labelled:
    id: str
    label: str


@dataclass(frozen=True)
class Locality:
    id: str
    name: str
    team: str
    wards: tuple[str, ...]


@dataclass(frozen=True)
class Council:
    id: str
    name: str
    website: str


@dataclass(frozen=True)
class Profile:
    """A council's deployment data, loaded once and shared read-only."""

    id: str
    directory: Path
    raw: dict[str, Any]
    categories: tuple[Labelled, ...]
    outcomes: tuple[Labelled, ...]
    localities: tuple[Locality, ...]
    postcodes: dict[str, Any]
    services: dict[str, Any]
    journeys: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def hub_name(self) -> str:
        return str(self.raw["hub"]["name"])

    @property
    def hub_phone(self) -> str:
        return str(self.raw["hub"]["phone"])

    @property
    def emergency_number(self) -> str:
        return str(self.raw["emergency"]["number"])

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.raw["languages"])

    @property
    def rtl_languages(self) -> frozenset[str]:
        return frozenset(self.raw.get("rtl_languages", []))

    @property
    def draft_retention_days(self) -> int:
        return int(self.raw["draft_retention_days"])

    @property
    def closed_retention_days(self) -> int:
        return int(self.raw["closed_retention_days"])

    @property
    def delivery_log_retention_days(self) -> int:
        return int(self.raw["delivery_log_retention_days"])

    @property
    def status_visible_days(self) -> int:
        return int(self.raw["status_visible_days"])

    @property
    def reference_prefix(self) -> str:
        return str(self.raw["reference_prefix"])

    def locality(self, locality_id: str) -> Locality | None:
        return next((loc for loc in self.localities if loc.id == locality_id), None)

    def council(self, council_id: str) -> Council:
        if council_id in self.postcodes["neighbours"]:
            data = self.postcodes["neighbours"][council_id]
        else:
            data = self.postcodes["elsewhere"]
        return Council(id=council_id, name=data["name"], website=data["website"])

    def category_label(self, category_id: str) -> str | None:
        return next((c.label for c in self.categories if c.id == category_id), None)

    def outcome_label(self, outcome_id: str) -> str | None:
        return next((o.label for o in self.outcomes if o.id == outcome_id), None)


def profile_name() -> str:
    return os.environ.get("FRONTDOOR_PROFILE", "hillingdon")


@cache
def load_profile(name: str | None = None) -> Profile:
    """Load and check a profile folder; cached because it never changes at run time."""
    name = name or profile_name()
    directory = PROFILES_DIR / name
    if not (directory / "profile.yaml").is_file():
        raise FileNotFoundError(f"no deployment profile named {name!r} in {PROFILES_DIR}")
    raw = _read(directory / "profile.yaml")
    cats = _read(directory / "categories.yaml")["categories"]
    outs = _read(directory / "outcomes.yaml")["outcomes"]
    locs = _read(directory / "localities.yaml")
    journeys = {
        path.stem: _read(path) for path in sorted((directory / "journeys").glob("*.yaml"))
    }
    return Profile(
        id=raw["id"],
        directory=directory,
        raw=raw,
        categories=tuple(Labelled(c["id"], c["label"]) for c in cats),
        outcomes=tuple(Labelled(o["id"], o["label"]) for o in outs),
        localities=tuple(
            Locality(loc["id"], loc["name"], loc["team"], tuple(loc["wards"]))
            for loc in locs["localities"]
        ),
        postcodes=locs,
        services=_read(directory / "services.yaml"),
        journeys=journeys,
    )
