"""``spinelab synth`` through ``cli.main``: files, determinism, no overwrite without --force."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy, cli
from spinelab.io.images import read_image
from spinelab.io.native import read_native
from spinelab.synth import generator

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

ARGS = ["--fov", "lumbar", "--spacing", "3", "3", "4", "--render-mm", "4"]


@pytest.fixture(autouse=True)
def fixture_spine(monkeypatch):
    """Render the hand-built spine instead of sampling the fitted shape model (speed, isolation)."""
    spine = curved_spine()
    monkeypatch.setattr(generator, "sample_geometry", lambda rng, cfg: spine)
    return spine


def _files(out: Path, i: int) -> list[Path]:
    stem = out / f"case_{i:04d}"
    return [
        Path(f"{stem}_ct.nii.gz"),
        Path(f"{stem}_labels.nii.gz"),
        Path(f"{stem}_centroids.json"),
    ]


def test_writes_three_files_per_case(tmp_path):
    out = tmp_path / "synth"
    assert cli.main(["synth", str(out), "--n", "2", "--seed", "3", *ARGS]) == 0
    for i in range(2):
        ct_p, lab_p, ctd_p = _files(out, i)
        ct = read_image(ct_p)
        lab = read_image(lab_p)
        ctd = read_native(ctd_p)
        assert ct.array.dtype == np.int16
        assert np.issubdtype(lab.array.dtype, np.integer)
        np.testing.assert_allclose(ct.affine_lps, lab.affine_lps, atol=1e-4)
        assert ctd.labels == ["L1", "L2", "L3", "L4", "L5", "S1", "S2"]
        for label, pos in ctd:
            ijk = tuple(np.rint(lab.world_to_ijk(pos)).astype(int))
            assert int(lab.array[ijk]) == anatomy.by_name(label).verse_id
        meta = json.loads(ctd_p.read_text())["source"]
        assert meta["image"] == ct_p.name
        assert meta["synth"]["config"]["fov"] == "lumbar"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for i in range(2) for p in _files(out, i)
    )


def test_same_seed_same_files_and_refuses_overwrite(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["synth", str(a), "--seed", "5", *ARGS]) == 0
    assert cli.main(["synth", str(b), "--seed", "5", *ARGS]) == 0
    for pa, pb in zip(_files(a, 0), _files(b, 0)):
        assert pa.read_bytes() == pb.read_bytes(), pa.name  # byte-identical files
    before = _files(a, 0)[0].read_bytes()
    capsys.readouterr()
    assert cli.main(["synth", str(a), "--seed", "6", *ARGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinelab: error: ") and "--force" in err
    assert _files(a, 0)[0].read_bytes() == before
    assert cli.main(["synth", str(a), "--seed", "6", "--force", *ARGS]) == 0
    assert _files(a, 0)[0].read_bytes() != before


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["synth", str(tmp_path / "x"), "--n", "0"]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["synth", str(f), *ARGS]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("style", ["ct", "randomized"])
def test_files_hold_what_the_python_api_returns(tmp_path, style):
    out = tmp_path / "synth"
    assert cli.main(["synth", str(out), "--n", "2", "--seed", "9", "--style", style, *ARGS]) == 0
    cfg = generator.SynthConfig(
        style=style, fov="lumbar", spacing_mm=(3.0, 3.0, 4.0), render_mm=4.0
    )
    for i in range(2):
        case = generator.generate_case(generator.case_seed(9, i), cfg)
        ct_p, lab_p, ctd_p = _files(out, i)
        ct, lab, ctd = read_image(ct_p), read_image(lab_p), read_native(ctd_p)
        np.testing.assert_array_equal(ct.array, case.ct.array)
        np.testing.assert_array_equal(lab.array, case.labels.array)
        np.testing.assert_allclose(ct.affine_lps, case.ct.affine_lps, atol=1e-4)
        assert ctd.labels == case.centroids.labels
        np.testing.assert_allclose(ctd.positions_mm, case.centroids.positions_mm, atol=1e-3)


def test_antialias_mode_reaches_the_generator(tmp_path):
    out = tmp_path / "synth"
    assert cli.main(["synth", str(out), "--seed", "9", "--antialias", "off", *ARGS]) == 0
    cfg = generator.SynthConfig(
        fov="lumbar", spacing_mm=(3.0, 3.0, 4.0), render_mm=4.0, antialias="off"
    )
    case = generator.generate_case(generator.case_seed(9, 0), cfg)
    np.testing.assert_array_equal(read_image(_files(out, 0)[0]).array, case.ct.array)
    smooth = generator.generate_case(
        generator.case_seed(9, 0), dataclasses.replace(cfg, antialias="spine")
    )
    assert not np.array_equal(smooth.ct.array, case.ct.array)


needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="the test's patched generator reaches worker processes only when they are forked",
)


@needs_fork
def test_workers_write_the_same_files(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli.main(["synth", str(one), "--n", "3", "--seed", "4", *ARGS]) == 0
    assert cli.main(["synth", str(two), "--n", "3", "--seed", "4", "--workers", "2", *ARGS]) == 0
    for i in range(3):
        for pa, pb in zip(_files(one, i), _files(two, i)):
            assert pa.read_bytes() == pb.read_bytes(), pb.name


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=needs_fork)])
def test_a_failing_case_does_not_stop_the_others(tmp_path, monkeypatch, capsys, workers):
    real = generator.generate_case
    bad = generator.case_seed(4, 1)

    def flaky(seed, config=None, geometry=None, workers=1):
        if seed == bad:
            raise RuntimeError("boom")
        return real(seed, config, geometry, workers)

    monkeypatch.setattr(generator, "generate_case", flaky)
    out = tmp_path / "synth"
    argv = ["synth", str(out), "--n", "3", "--seed", "4", "--workers", workers, *ARGS]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"spinelab: error: case 1 (seed {bad}) failed: RuntimeError: boom"]
    for i in (0, 2):
        assert all(p.is_file() for p in _files(out, i))
    assert not any(p.exists() for p in _files(out, 1))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for i in (0, 2) for p in _files(out, i)
    )


def test_workers_must_be_positive(tmp_path, capsys):
    assert cli.main(["synth", str(tmp_path / "x"), "--workers", "0", *ARGS]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_a_case_that_cannot_be_written_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    # one process writes each case in a thread while it makes the next: a failed write is
    # reported as that case's, in order, and the cases after it are still written
    from spinelab.errors import SpinelabInputError
    from spinelab.io import images

    real = images.write_image

    def refuse(volume, path, force=False):
        if "case_0001_ct" in str(path):
            raise SpinelabInputError(path, "cannot write (disk full)")
        return real(volume, path, force=force)

    monkeypatch.setattr(images, "write_image", refuse)
    out = tmp_path / "synth"
    assert cli.main(["synth", str(out), "--n", "3", "--seed", "4", *ARGS]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"spinelab: error: {_files(out, 1)[0]}: cannot write (disk full)"]
    for i in (0, 2):
        assert all(p.is_file() for p in _files(out, i))
    assert not any(p.exists() for p in _files(out, 1))
