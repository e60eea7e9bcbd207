"""``spinelab.synth.batch.make_cases``: results in order, failures returned, files as one case."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from spinelab.io.images import read_image
from spinelab.synth import batch, generator

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

CFG = generator.SynthConfig(fov="lumbar", spacing_mm=(3.0, 3.0, 4.0), render_mm=4.0)


def test_results_come_in_order_with_the_failure_returned(tmp_path, monkeypatch):
    spine = curved_spine()
    monkeypatch.setattr(generator, "sample_geometry", lambda rng, cfg: spine)
    real = generator.generate_case

    def flaky(seed, config=None, geometry=None, workers=1):
        if seed == 12:
            raise RuntimeError("boom")
        return real(seed, config, geometry, workers)

    monkeypatch.setattr(generator, "generate_case", flaky)
    jobs = [(5, 11), (6, 12), (7, 13)]
    results = list(batch.make_cases(tmp_path, jobs, CFG))
    assert [(r.index, r.seed) for r in results] == jobs
    assert [r.error is None for r in results] == [True, False, True]
    assert isinstance(results[1].error, RuntimeError)
    assert results[0].summary is not None and "case_0005_ct.nii.gz" in results[0].summary
    ct = read_image(batch.case_paths(tmp_path, 7)[0])
    np.testing.assert_array_equal(ct.array, real(13, CFG).ct.array)
    assert not any(p.exists() for p in batch.case_paths(tmp_path, 6))
