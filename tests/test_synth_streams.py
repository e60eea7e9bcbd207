"""Side streams of a case's generator (spinelab.synth.streams)."""

from __future__ import annotations

import numpy as np

from spinelab.synth import streams
from spinelab.synth.streams import side_stream


def test_a_side_stream_leaves_the_main_stream_where_it_was():
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    side = side_stream(a, streams.COUCH).random(5)
    np.testing.assert_array_equal(a.random(8), b.random(8))  # not advanced
    # and its children: a spawn after the side stream is the spawn without it
    np.testing.assert_array_equal(a.spawn(1)[0].random(3), b.spawn(1)[0].random(3))
    # the same state, the same side draws; another detail, other draws
    c = np.random.default_rng(11)
    c.random(8)
    d = np.random.default_rng(11)
    d.random(8)
    np.testing.assert_array_equal(
        side_stream(c, streams.COUCH).random(5), side_stream(d, streams.COUCH).random(5)
    )
    assert not np.array_equal(
        side, side_stream(np.random.default_rng(11), streams.VACUUM).random(5)
    )


def test_the_details_have_distinct_jump_counts():
    jumps = [v for k, v in vars(streams).items() if k.isupper() and isinstance(v, int)]
    assert len(jumps) >= 6 and len(set(jumps)) == len(jumps)


def test_a_generator_that_cannot_jump_gets_a_spawned_child():
    rng = np.random.Generator(np.random.SFC64(5))
    before = np.random.Generator(np.random.SFC64(5)).random(4)
    child = side_stream(rng, streams.KERNEL)
    assert isinstance(child, np.random.Generator)
    np.testing.assert_array_equal(rng.random(4), before)
