"""Lower ribs on synthetic 3 mm CT: bone above 200 HU beside T12 against the real example CT."""

from __future__ import annotations

import numpy as np
import pytest

from spinelab.synth.generator import SynthConfig, case_seed, generate_case

#: bone above 200 HU more than 80 mm to either side of T12's centre, from T12's lower endplate
#: 45 mm up, on the real example CT (3 mm): mm3 per mm of height. The box ends BEHIND_MM behind
#: the centre, before the couch (the synthetic couch's skins may read above 200 HU at 3 mm; the
#: real CT gives 480 with or without that limit)
REAL_RIB_BOX_MM3_PER_MM = 480.0
BEHIND_MM = 60.0


@pytest.mark.xfail(
    strict=True,
    reason="known gap (benchmarks/RESULTS.md, twenty-second pass): since the ribs lie in the "
    "chest wall, not in the lungs' recesses, their 3 mm partial volume is with muscle, not "
    "lung: 880 mm3/mm here (real 480; 546 while lung surrounded them); the lower ribs' axial "
    "sections at T12 are long streaks of 140-200 mm2 against the real CT's ovals of 67 mm2",
)
def test_lateral_rib_bone_above_200_hu_near_the_real_amount():
    cfg = SynthConfig(fov="thoracic", spacing_mm=(3.0, 3.0, 3.0))
    measured = []
    for i in (1,):  # case 0's field of view ends below T12
        case = generate_case(case_seed(0, i), cfg)
        a, aff, geo = case.ct.array, case.ct.affine_lps, case.geometry
        if "T12" not in geo.labels:
            continue
        n = geo.labels.index("T12")
        c = geo.centres_mm[n]
        z_lo = c[2] - geo.body_height_mm[n] / 2
        ii, jj, kk = np.meshgrid(*[np.arange(m) for m in a.shape], indexing="ij", sparse=True)
        x = aff[0, 0] * ii + aff[0, 1] * jj + aff[0, 2] * kk + aff[0, 3]
        y = aff[1, 0] * ii + aff[1, 1] * jj + aff[1, 2] * kk + aff[1, 3]
        z = aff[2, 0] * ii + aff[2, 1] * jj + aff[2, 2] * kk + aff[2, 3]
        if z.max() < z_lo + 45.0 or z.min() > z_lo:
            continue
        box = (np.abs(x - c[0]) > 80.0) & (z >= z_lo) & (z <= z_lo + 45.0) & (y < c[1] + BEHIND_MM)
        vox = float(np.prod(np.linalg.norm(aff[:3, :3], axis=0)))
        measured.append(float(((a > 200) & box).sum()) * vox / 45.0)
    assert measured
    # rib medulla drawn as pelvic marrow (230 HU) gave about 730 (1.5 times the real 480)
    for v in measured:
        assert 0.6 * REAL_RIB_BOX_MM3_PER_MM < v < 1.35 * REAL_RIB_BOX_MM3_PER_MM, measured
