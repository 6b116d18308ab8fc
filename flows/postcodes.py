"""Route a postcode to a locality, or to the neighbouring council the person should contact.

The mapping is profile data (localities.yaml); this module only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiles import Profile


@dataclass(frozen=True)
class Route:
    postcode: str
    district: str
    in_borough: bool
    locality: str | None  # locality id when in (or maybe in) the borough
    council: str | None  # council id of the other council, when outside or shared
    shared: bool  # the district straddles a council boundary: ask the person

    def to_json(self) -> dict[str, Any]:
        return {
            "postcode": self.postcode,
            "district": self.district,
            "in_borough": self.in_borough,
            "locality": self.locality,
            "council": self.council,
            "shared": self.shared,
        }


def route(profile: Profile, postcode: str) -> Route:
    """`postcode` is already normalised ('UB8 1QS')."""
    data = profile.postcodes
    district, inward = postcode.split(" ")
    sector = f"{district} {inward[0]}"
    entry: dict[str, Any] | None = data.get("sectors", {}).get(sector) or data.get(
        "districts", {}
    ).get(district)
    if entry is None:
        council = next(
            (cid for cid, c in data.get("neighbours", {}).items() if district in c["districts"]),
            "elsewhere",
        )
        return Route(postcode, district, False, None, council, False)
    own = profile.id
    council = entry.get("council")
    if council and council != own:
        # Mostly another council's district, partly ours: still ask.
        shared = entry.get("shared_with") == own
        return Route(postcode, district, False, entry.get("locality"), council, shared)
    shared_with = entry.get("shared_with")
    return Route(postcode, district, True, entry.get("locality"), shared_with, bool(shared_with))
