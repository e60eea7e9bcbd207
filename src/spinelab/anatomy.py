"""The vertebra chain: the one source of truth for vertebra labels in spinelab.

Both papers work with the 26-vertebra chain C1..C7, T1..T12, L1..L5, S1, S2. Two transitional
vertebrae may also be present: T13 (a thirteenth rib-bearing vertebra, after T12) and L6 (a sixth
lumbar vertebra, after L5). Everything else in spinelab (heatmap channels, file formats, metrics,
CLI choices) derives its labels from the tables here.

VerSe ids follow the VerSe challenge: 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5, 25 L6, 26 sacrum (S1),
27 coccyx, 28 T13. VerSe has no id for S2; spinelab gives S2 the id 29, which is outside VerSe's
range 1-28 and so can never collide with a VerSe label.

Example:
    >>> from spinelab import anatomy
    >>> anatomy.by_name("L1").verse_id
    20
    >>> [v.name for v in anatomy.STANDARD_CHAIN[:3]]
    ['C1', 'C2', 'C3']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Region = Literal["cervical", "thoracic", "lumbar", "sacral"]
REGIONS: tuple[Region, ...] = ("cervical", "thoracic", "lumbar", "sacral")

#: Largest label id VerSe knows (28 = T13); VerSe's ids are 1-28.
VERSE_MAX_ID = 28
#: VerSe id given to S2 by spinelab (VerSe itself has none; 29 is outside VerSe's 1-28).
S2_VERSE_ID = 29


@dataclass(frozen=True)
class Vertebra:
    """One vertebra of the chain.

    Attributes:
        name: Label as written everywhere in spinelab ("C1", "T13", "S2").
        verse_id: VerSe label id (S2: 29, see module docstring).
        region: "cervical", "thoracic", "lumbar" or "sacral".
        chain_index: Position in the full chain ``CHAIN`` (0 = C1), transitional ones included.
        transitional: True for T13 and L6, which may or may not be present.
    """

    name: str
    verse_id: int
    region: Region
    chain_index: int
    transitional: bool

    @property
    def standard_index(self) -> int | None:
        """Index in the 26-label ``STANDARD_CHAIN`` (heatmap channel), None for T13/L6."""
        return _STANDARD_INDEX.get(self.name)


def _build_chain() -> tuple[Vertebra, ...]:
    rows: list[tuple[str, int, Region, bool]] = []
    rows += [(f"C{i}", i, "cervical", False) for i in range(1, 8)]
    rows += [(f"T{i}", 7 + i, "thoracic", False) for i in range(1, 13)]
    rows += [("T13", 28, "thoracic", True)]
    rows += [(f"L{i}", 19 + i, "lumbar", False) for i in range(1, 6)]
    rows += [("L6", 25, "lumbar", True)]
    rows += [("S1", 26, "sacral", False), ("S2", S2_VERSE_ID, "sacral", False)]
    return tuple(
        Vertebra(name, vid, region, idx, trans)
        for idx, (name, vid, region, trans) in enumerate(rows)
    )


#: The full chain in anatomical order (cranial to caudal), T13 and L6 included: 28 vertebrae.
CHAIN: tuple[Vertebra, ...] = _build_chain()
#: The 26-vertebra chain of both papers (no T13, no L6): the heatmap channel order.
STANDARD_CHAIN: tuple[Vertebra, ...] = tuple(v for v in CHAIN if not v.transitional)
#: Names of the 26 standard labels, in channel order.
STANDARD_LABELS: tuple[str, ...] = tuple(v.name for v in STANDARD_CHAIN)
#: Names of all 28 labels, in chain order.
ALL_LABELS: tuple[str, ...] = tuple(v.name for v in CHAIN)
#: Number of heatmap channels (26).
N_STANDARD = len(STANDARD_CHAIN)

_BY_NAME = {v.name: v for v in CHAIN}
_BY_VERSE_ID = {v.verse_id: v for v in CHAIN}
_STANDARD_INDEX = {v.name: i for i, v in enumerate(STANDARD_CHAIN)}
_ALIASES = {"SACRUM": "S1", "S": "S1"}


class UnknownLabelError(ValueError):
    """Raised for a label that is not in the vertebra chain."""


def normalize_name(label: str) -> str:
    """Return the canonical name for a label string ("l1", " T-12 ", "sacrum" -> "L1", "T12", "S1").

    Raises:
        UnknownLabelError: if the string names no vertebra of the chain.
    """
    key = str(label).strip().upper().replace("-", "").replace("_", "").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in _BY_NAME:
        raise UnknownLabelError(f"unknown vertebra label {label!r}")
    return key


def by_name(label: str) -> Vertebra:
    """The vertebra named ``label`` (case-insensitive, see :func:`normalize_name`)."""
    return _BY_NAME[normalize_name(label)]


def by_verse_id(verse_id: int) -> Vertebra:
    """The vertebra with VerSe id ``verse_id`` (26 is S1/sacrum, 29 is spinelab's S2).

    Raises:
        UnknownLabelError: for ids that name no vertebra (27 coccyx included).
    """
    try:
        return _BY_VERSE_ID[int(verse_id)]
    except (KeyError, ValueError, TypeError):
        raise UnknownLabelError(f"unknown VerSe vertebra id {verse_id!r}") from None


def lookup(label: str | int) -> Vertebra:
    """The vertebra for a name ("L1") or a VerSe id (20, or "20")."""
    if isinstance(label, int) or (isinstance(label, str) and label.strip().isdigit()):
        return by_verse_id(int(label))
    return by_name(label)


def region_of(label: str) -> Region:
    """Region ("cervical", "thoracic", "lumbar", "sacral") of a label."""
    return by_name(label).region


def chain_index(label: str) -> int:
    """Position of a label in the full chain ``CHAIN`` (0 = C1, 19 = T13, 26 = S1, 27 = S2)."""
    return by_name(label).chain_index


def sort_labels(labels: list[str] | tuple[str, ...]) -> list[str]:
    """Labels sorted in chain order (cranial to caudal)."""
    return sorted((normalize_name(x) for x in labels), key=chain_index)


def labels_in_region(region: Region, include_transitional: bool = True) -> tuple[str, ...]:
    """Names of the vertebrae of a region, in chain order."""
    return tuple(
        v.name for v in CHAIN if v.region == region and (include_transitional or not v.transitional)
    )
