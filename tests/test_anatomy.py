from __future__ import annotations

import pytest

from spinelab import anatomy


def test_chain_order_and_counts() -> None:
    assert len(anatomy.CHAIN) == 28
    assert len(anatomy.STANDARD_CHAIN) == 26
    assert anatomy.STANDARD_LABELS[:2] == ("C1", "C2")
    assert anatomy.STANDARD_LABELS[-2:] == ("S1", "S2")
    assert anatomy.ALL_LABELS.index("T13") == anatomy.ALL_LABELS.index("T12") + 1
    assert anatomy.ALL_LABELS.index("L6") == anatomy.ALL_LABELS.index("L5") + 1
    assert [v.chain_index for v in anatomy.CHAIN] == list(range(28))


def test_verse_ids_match_verse() -> None:
    expected = {
        "C1": 1,
        "C7": 7,
        "T1": 8,
        "T12": 19,
        "L1": 20,
        "L5": 24,
        "L6": 25,
        "S1": 26,
        "T13": 28,
    }
    for name, vid in expected.items():
        assert anatomy.by_name(name).verse_id == vid
        assert anatomy.by_verse_id(vid).name == name
    ids = [v.verse_id for v in anatomy.CHAIN]
    assert len(set(ids)) == len(ids)
    assert anatomy.by_name("S2").verse_id == anatomy.S2_VERSE_ID
    assert anatomy.S2_VERSE_ID not in range(1, 29)
    assert anatomy.VERSE_MAX_ID == 28
    assert [v.name for v in anatomy.CHAIN if v.verse_id > anatomy.VERSE_MAX_ID] == ["S2"]


def test_regions_and_lookup() -> None:
    assert anatomy.region_of("t13") == "thoracic"
    assert anatomy.region_of("L6") == "lumbar"
    assert anatomy.labels_in_region("cervical") == tuple(f"C{i}" for i in range(1, 8))
    assert anatomy.lookup(20).name == "L1"
    assert anatomy.lookup("20").name == "L1"
    assert anatomy.lookup(" l-1 ").name == "L1"
    assert anatomy.lookup("sacrum").name == "S1"
    assert anatomy.by_name("T13").standard_index is None
    assert anatomy.by_name("S2").standard_index == 25
    assert anatomy.sort_labels(["L1", "C3", "T13", "T12"]) == ["C3", "T12", "T13", "L1"]


@pytest.mark.parametrize("bad", ["X1", "L7", "", "C0"])
def test_unknown_label(bad: str) -> None:
    with pytest.raises(anatomy.UnknownLabelError):
        anatomy.by_name(bad)


def test_unknown_verse_id() -> None:
    with pytest.raises(anatomy.UnknownLabelError):
        anatomy.by_verse_id(27)  # coccyx: not a vertebra of the chain
