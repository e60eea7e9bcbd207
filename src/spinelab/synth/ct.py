"""CT physics for the synthetic generator: fine tissue map -> int16 HU on the output grid.

Steps (all vectorized numpy / scipy.ndimage):

1. HU per tissue (:func:`spinelab.synth.tissues.sample_hu_table`) looked up on the fine grid and
   block-averaged down to the output voxels: partial volume, including the slice thickness.
2. Per-vertebra density offsets and a smooth trabecular texture inside the vertebrae.
3. Metal streaks per axial slice: alternating bright and dark lines through each metal object,
   a dark band between two (:func:`metal_streaks`).
4. In-plane blur by the reconstruction kernel (a Gaussian PSF; sharp bone kernels add an edge
   boost, :func:`kernel_boost`: dark undershoot halos outside cortical bone), then scanner
   effects computed
   from a coarse projection of the image (:func:`scanner_maps`): noise with the filtered
   back-projection noise power spectrum (band-pass, grainy), higher in the body centre and
   along the longest paths, correlated between overlapping slices; photon-starvation streaks
   as thin lines along a few view directions within 15 deg of lateral, in the bands of rays
   through the longest paths (the dense bones), as strong along the whole ray; beam hardening
   on a 4 mm grid (dark bands between dense bones, slight cupping). Streaks and beam hardening
   are zero in the air around the body.
5. Clip to [-1024, 3071] and round to int16.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as ndi
from numpy.typing import NDArray
from scipy import sparse

from spinelab.synth import parallel
from spinelab.synth.antialias import EdgeBlend
from spinelab.synth.arrays import copy_tiled, empty_padded

HU_MIN = -1024
HU_MAX = 3071
#: Trabecular texture amplitude falls as voxel volume to this power (between 0: no averaging
#: and 1/2: independent trabeculae per mm^3); tuned so that 3 mm cores show the real CT's
#: spread.
TEXTURE_VOLUME_EXPONENT = 0.25
#: Correlation lengths (Gaussian sigma, mm) of the trabecular texture: ``(along z, across)``.
#: Vertebral cancellous bone is anisotropic: thick vertical trabeculae (plates and rods along
#: the body's axis, the load direction) joined by thinner horizontal struts, which thin out
#: first with age (Mosekilde, Bone 1988; Thomsen et al., Bone 2013; fabric degree of
#: anisotropy about 1.5-2 at L2-L4), so on CT the texture runs in vertical streaks several mm
#: long and is finer across. The field runs along the grid's z axis, which the vertebral axis
#: follows within about 20-30 deg (lordosis, scoliosis). The ratio is kept at the low end
#: (1.4) so that at 3 mm the L1-L4 cores' neighbour correlation along z (noise included,
#: high-passed at 6 mm) is 0.37 over six cases, as on the real example CT (0.35; it was 0.47
#: with 2.0 mm along z).
TRABECULAR_TEXTURE_MM = (1.3, 0.9)
#: Output voxels per chunk of the tissue look-up (a few hundred kB: stays in cache).
LUT_CHUNK = 1 << 16
#: Linear attenuation of water at the effective energy of a 120 kVp beam (about 70 keV:
#: 0.019 / mm, NIST XCOM), for the noise and starvation models.
MU_WATER_PER_MM = 0.019
#: Position-independent share of the noise variance (over the body median of the projected
#: variance; the bowtie filter, scatter, electronic noise): without it the subcutaneous fat was
#: 0.55-0.75x as noisy as the paraspinal muscle at 3 mm; the real example measures 16.3 / 19.3
#: HU (0.84x, the muscle's own texture included). 0.8 puts the noise 3-12 mm under the skin of
#: a 380 x 260 mm body at 0.8x that of its centre (0.76x with 0.5).
NOISE_FLOOR = 0.8
#: Angular tube-current modulation as a share of ``Physics.aec`` (the longitudinal one is
#: ``aec`` itself): clinical AEC evens out the noise of the views of a rotation less than that
#: of the slabs along z, so lateral views stay the noisier. Tuned on the real arms-down DICOM
#: slab (0.98 mm, 3 mm, Br38f): its measured lateral / AP noise-power ratio is 3.0, its
#: anatomy's texture included (which pulls the ratio towards 1: 20-40 % of the soft-tissue
#: power in synthetic cases); the model's own views on its anatomy at ``aec`` 0.5 give a
#: noise-only ratio of 2.5 with 1.0 (full modulation), 3.5 with 0.7 and 3.9 with 0.6, which a
#: 25 % isotropic share brings to about 2.9. Eight 3 mm soft-kernel synthetic cases: 1.93
#: mean with 1.0, 2.39 with 0.6 (fat noise SD unchanged).
ANGULAR_AEC = 0.6
#: Pixels coarser than this (mm) sample the fine noise: its spectrum is folded (aliased).
ALIAS_ABOVE_MM = 1.0
#: Noise-power floor at zero frequency, as a fraction of the NPS peak frequency.
NPS_FLOOR = 0.3
#: Photon-starvation streaks: the starved views are the few near-lateral ones whose rays cross
#: the longest paths (both femoral heads, the shoulders, the arms beside the trunk); a starved
#: view's noisy rays, ramp-filtered, back-project into thin lines along that view's ray
#: direction with dark and bright side bands, each line as strong along its whole length as
#: its ray is starved (the rays through the dense bones). ``STREAK_FAN_DEG``: the views within
#: this angle of lateral make the streaks (a path through two structures 150-300 mm apart,
#: 40-60 mm wide, stays long over about +-10-17 deg); ``STREAK_LINES`` view angles per case,
#: drawn within the fan, one per noise slice in turn; ``STREAK_WEDGE_DEG``: angular half-width
#: (sigma) of each line's wedge in frequency space (lines coherent over about 60-100 mm).
STREAK_FAN_DEG = 15.0
STREAK_LINES = 3
STREAK_WEDGE_DEG = 1.2
#: Angular bins over 180 degrees of the streak wedges' look-up table.
STREAK_ANGLE_BINS = 3600
#: Water-equivalent path (mm) at which counts fall to the electronic-noise level, where
#: photon-starvation streaks have the drawn amplitude (an average adult abdomen is about
#: 300-350 mm across laterally; the pelvis with both femoral heads more), and the cap on
#: ``2 mu_w (path - L)`` (streak SD at most e^0.5 = 1.65x the drawn amplitude; e^1 let arms-down
#: cases reach 2.7x, stronger than the real arms-down slab's streaks).
STARVATION_PATH_MM = 330.0
STARVATION_MAX_LOG = 1.0
#: Bone beam hardening is reconstructed on its own finer grid (pixel :data:`BH_MM`,
#: :data:`BH_ANGLES` views over 180 degrees), fine enough to resolve the dark band between
#: two pedicles (15-25 mm apart, 6-10 mm wide) or across the pelvis between the femoral heads;
#: the residual water cupping is smooth and stays on the coarse grid.
BH_MM = 4.0
BH_ANGLES = 60
#: Pixels below this HU (air, before the blur) carry no beam hardening or streaks (each slice's
#: own mask, within the chunk's coarse tissue map widened by :data:`AIR_MARGIN` coarse pixels).
AIR_HU = -500.0
AIR_MARGIN = 1
#: Coarse pixel (mm) and slab thickness (mm) of the projected attenuation maps.
COARSE_MM = 8.0
CHUNK_MM = 20.0
#: Projection angles over 180 degrees of the coarse maps.
N_ANGLES = 24
#: Distinct noise slices drawn per case (reused with flips and shifted windows).
NOISE_SLICES = 8
#: Extra rows/columns of the periodic noise fields (room for shifted windows).
TILE_PAD = 40
#: Smallest noise slice-sensitivity FWHM (mm): thin-slice reconstructions overlap.
SSP_MIN_MM = 1.0


@dataclass(frozen=True)
class Physics:
    """Scanner parameters of one case.

    Attributes:
        noise_hu: Median standard deviation of the image noise over the body (HU); it is higher
            in the body centre and along the longest (lateral) paths (:func:`scanner_maps`).
        blur_mm: In-plane Gaussian PSF sigma of the reconstruction kernel (mm); it also sets the
            roll-off of the noise power spectrum.
        kernel: Reconstruction kernel family, ``"soft"`` (Gaussian transfer function only:
            standard body kernels, e.g. Siemens B30f/Br38, GE STANDARD) or ``"sharp"`` (bone
            kernels, e.g. Siemens B60f/B70f, GE BONE, Philips D/YB: edge-enhancing), recorded
            for the case's meta; the image follows ``edge_boost`` and ``boost_freq``.
        edge_boost: Edge boost ``a`` of the kernel's transfer function
            ``G(f) (1 + a (1 - exp(-(f / boost_freq)^2)))`` (``G`` the Gaussian PSF's; 0: no
            boost): mid and high frequencies amplified up to ``1 + a`` times, so the MTF rises
            above 1 (overshoot at edges, a dark undershoot halo beside them) and the noise is
            finer-grained (:func:`kernel_boost`).
        boost_freq: Frequency (cycles/mm) above which the boost sets in.
        streak_hu: Amplitude of metal streaks (HU).
        aec: Tube-current modulation exponent along z (0: fixed current, noise follows the
            attenuation fully; 1: every slab's most attenuated ray gets the same counts);
            over the views of a rotation it is :data:`ANGULAR_AEC` times this. Clinical
            automatic exposure control sits in between.
        iterative: Strength of iterative reconstruction: the noise power spectrum's roll-off
            sigma is ``blur_mm * (1 + iterative)`` (iterative reconstruction removes more
            high-frequency noise, shifting the NPS peak down: a blotchier texture).
        slice_overlap: Noise slice-sensitivity FWHM over the slice spacing (1: contiguous
            slices, independent noise; 1.5: e.g. 3 mm slices every 2 mm, correlated noise).
        starvation_hu: Photon-starvation streak amplitude (HU) where the lateral water-equivalent
            path reaches :data:`STARVATION_PATH_MM`; 0 for most cases.
        bone_bh: Beam-hardening loss per ray, ``bone_bh * bone_path_mm^2`` (1/mm): dark bands
            between dense bones.
        water_bh: Residual water beam hardening after the scanner's correction,
            ``water_bh * path_mm^2`` (1/mm): slight cupping of large bodies.
    """

    noise_hu: float = 15.0
    blur_mm: float = 0.5
    kernel: str = "soft"
    edge_boost: float = 0.0
    boost_freq: float = 0.25
    streak_hu: float = 400.0
    aec: float = 0.6
    iterative: float = 0.0
    slice_overlap: float = 1.0
    starvation_hu: float = 0.0
    bone_bh: float = 0.0
    water_bh: float = 0.0


def block_mean_lut(
    labels_fine: NDArray[np.uint8],
    lut: NDArray[np.float32],
    factors: tuple[int, int, int],
    out: NDArray[np.float32] | None = None,
    blend: EdgeBlend | None = None,
) -> NDArray[np.float32]:
    """Average ``lut[labels_fine]`` over blocks of ``factors`` voxels (partial volume).

    The look-up runs a chunk of rows at a time into one preallocated output (numpy would
    otherwise build whole-volume index and value temporaries); the output has padded rows
    (:func:`~spinelab.synth.arrays.empty_padded`).

    Args:
        labels_fine: ``(nk*fk, nj*fj, ni*fi)`` class map.
        lut: ``(n_classes,)`` value per class.
        factors: ``(fk, fj, fi)`` block size.
        out: ``(nk, nj, ni)`` float32 array to fill (rows contiguous), e.g. a reused slab
            buffer; None allocates one.
        blend: Sub-voxel make-up of the boundary voxels of ``labels_fine`` (indexed like it;
            :func:`spinelab.synth.antialias.edge_blend`): their values are blended with their
            neighbours' tissues by its shares. None: whole voxels.

    Returns:
        ``(nk, nj, ni)`` float32 block means (``out``, or a new view with padded rows).
    """
    fk, fj, fi = factors
    table = np.zeros(256, dtype=np.float32)  # uint8 indices never leave a 256-entry table
    table[: len(lut)] = lut
    nk, nj, ni = (
        labels_fine.shape[0] // fk,
        labels_fine.shape[1] // fj,
        labels_fine.shape[2] // fi,
    )
    if out is None:
        out = empty_padded((nk, nj, ni), np.float32)
    elif out.shape != (nk, nj, ni) or out.dtype != np.float32:
        raise ValueError(f"out is {out.dtype} {out.shape}, expected float32 {(nk, nj, ni)}")
    rows = max(1, LUT_CHUNK // max(ni, 1))
    if fk * fj * fi == 1:
        for k in range(nk):
            for j0 in range(0, nj, rows):
                j1 = min(nj, j0 + rows)
                np.take(table, labels_fine[k, j0:j1], out=out[k, j0:j1], mode="clip")
        if blend is not None:
            blend.add_to(out, table, factors)
        return out
    # output rows chunk by chunk, so the partial sums stay in cache (same summation order as
    # a whole-volume sum: zero, then each sub-voxel offset in turn, then the scale)
    tmp = np.empty((rows, ni), dtype=np.float32)
    scale = np.float32(1.0 / (fk * fj * fi))
    for k in range(nk):
        for j0 in range(0, nj, rows):
            j1 = min(nj, j0 + rows)
            acc = out[k, j0:j1]
            acc.fill(0.0)
            part = tmp[: j1 - j0]
            for a, b, c in itertools.product(range(fk), range(fj), range(fi)):
                sub = labels_fine[k * fk + a, j0 * fj + b : j1 * fj : fj, c::fi]
                np.take(table, sub, out=part, mode="clip")
                acc += part
            acc *= scale
    if blend is not None:
        blend.add_to(out, table, factors)
    return out


def block_centre(
    labels_fine: NDArray[np.uint8], factors: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """Label of each block's central fine voxel: ``(nk, nj, ni)``."""
    fk, fj, fi = factors
    return np.ascontiguousarray(labels_fine[fk // 2 :: fk, fj // 2 :: fj, fi // 2 :: fi])


def blur_axis(
    img: NDArray[np.float32],
    sigma: float,
    axis: int,
    truncate: float = 2.0,
    then: Callable[[int, NDArray[np.float32]], None] | None = None,
) -> None:
    """In-place Gaussian blur of a ``(nk, nj, ni)`` volume along one axis, slice by slice.

    Same result as ``scipy.ndimage.gaussian_filter1d(img, sigma, axis, mode="reflect",
    truncate=truncate)`` (to float32 rounding), about 3x faster along the first two axes: a
    weighted sum of shifted slices (axis 0: keeping the few original slices still needed) or
    shifted rows of each slice, instead of scipy's strided line buffers.

    ``then(k, slice_k)`` (axis 1 only) is called on each blurred slice while it is still in
    cache, before it is stored (used to add the noise without another pass over the volume).
    """
    r = int(truncate * sigma + 0.5) if sigma > 0.05 else 0
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / max(sigma, 0.05)) ** 2)
    w = (w / w.sum()).astype(np.float32)
    n = img.shape[axis]
    if then is not None and axis != 1:
        raise ValueError("then= is supported along axis 1 only")
    if r == 0 or n < 2:
        if then is not None:
            for k in range(img.shape[0]):
                then(k, img[k])
        return
    if axis == 2:
        ndi.gaussian_filter1d(img, sigma, axis=2, output=img, truncate=truncate)
        return

    def mirror(q: int) -> int:
        while q < 0 or q >= n:
            q = -q - 1 if q < 0 else 2 * n - q - 1
        return q

    if axis == 0:
        orig: dict[int, NDArray[np.float32]] = {}
        acc = np.empty(img.shape[1:], dtype=np.float32)
        tmp = np.empty(img.shape[1:], dtype=np.float32)
        for k in range(n):
            for q in range(k - r, k + r + 1):
                m = mirror(q)
                if m not in orig:
                    orig[m] = img[m].copy()
            np.multiply(orig[k], w[r], out=acc)
            for t, q in enumerate(range(k - r, k + r + 1)):
                if q != k:
                    np.multiply(orig[mirror(q)], w[t], out=tmp)
                    acc += tmp
            img[k] = acc
            for m in [m for m in orig if m < k - r and m != mirror(k - r)]:
                del orig[m]
        return
    idx = np.array([mirror(q) for q in range(-r, n + r)])
    acc2 = np.empty(img.shape[1:], dtype=np.float32)
    tmp2 = np.empty(img.shape[1:], dtype=np.float32)
    for k in range(img.shape[0]):
        padded = img[k][idx]  # (n + 2r, ni) rows, mirrored at the ends
        np.multiply(padded[r : r + n], w[r], out=acc2)
        for t in range(2 * r + 1):
            if t != r:
                np.multiply(padded[t : t + n], w[t], out=tmp2)
                acc2 += tmp2
        if then is not None:
            then(k, acc2)
        img[k] = acc2


def boost_sigma_mm(boost_freq: float) -> float:
    """Sigma (mm) of the Gaussian whose transfer function is ``exp(-(f / boost_freq)^2)``."""
    return 1.0 / (math.sqrt(2.0) * math.pi * max(boost_freq, 1e-3))


def kernel_boost(
    f2: NDArray[np.float32], edge_boost: float, boost_freq: float
) -> NDArray[np.float32]:
    """Edge boost of a sharp kernel's transfer function at squared frequencies ``f2``.

    ``B(f) = 1 + a (1 - exp(-(f / fb)^2))`` (``a`` = ``edge_boost``, ``fb`` = ``boost_freq``,
    f in cycles/mm): 1 at zero frequency (the HU of large regions are kept), rising to
    ``1 + a`` above ``fb``. Times the Gaussian PSF's transfer function it makes the MTF of a
    bone kernel, above 1 at mid frequencies. In space it is the unsharp mask
    ``(1 + a) delta - a G_b``, ``G_b`` a Gaussian of sigma :func:`boost_sigma_mm`, which is
    how :func:`blur_inplane` applies it to the image; the noise power spectra
    (:func:`_fbp_filters`, :func:`streak_fields`) are multiplied by ``B^2``.

    Returns:
        float32 array shaped as ``f2``.
    """
    g = np.exp(f2 * np.float32(-1.0 / max(boost_freq, 1e-3) ** 2))
    return np.float32(1.0 + edge_boost) - np.float32(edge_boost) * g


def _directional_power(
    fy: NDArray[np.float32],
    fx: NDArray[np.float32],
    sigma: float,
    view_var: NDArray[np.float64] | None,
    boost: tuple[float, float] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Lateral and AP noise power at frequencies ``(fy, fx)`` (cycles/mm, broadcast).

    See :func:`_fbp_filters`.
    """
    f2 = fy * fy + fx * fx
    f_peak = 1.0 / (2.0 * math.pi * sigma * math.sqrt(2.0))
    nps = (np.sqrt(f2) + np.float32(NPS_FLOOR * f_peak)) * np.exp(
        np.float32(-4.0 * math.pi**2 * sigma**2) * f2
    )
    if boost is not None and boost[0] > 0:
        nps = nps * kernel_boost(f2, *boost) ** 2
    ay, ax = np.abs(fy), np.abs(fx)
    lat = np.where(ay > ax, np.float32(1.0), np.where(ay == ax, np.float32(0.5), 0))
    ap = np.where(ax > ay, np.float32(1.0), np.where(ay == ax, np.float32(0.5), 0))
    ang = np.arctan2(fy, fx)  # (-pi, pi]
    if view_var is not None and len(view_var) > 1:
        # rays at angle theta (from x) carry the frequencies at theta + 90 degrees
        n_v = len(view_var)
        pos = np.mod(ang - np.float32(0.5 * math.pi), np.float32(math.pi)) * np.float32(
            n_v / math.pi
        )
        i0 = pos.astype(np.intp)
        fr = pos - i0
        i0 %= n_v
        vv = np.asarray(view_var, dtype=np.float32) / np.float32(np.mean(view_var))
        prof = vv[i0] * (1.0 - fr) + vv[(i0 + 1) % n_v] * fr
        lat = lat * prof
        ap = ap * prof
    return nps * lat, nps * ap


def _fbp_filters(
    shape: tuple[int, int],
    spacing_mm: tuple[float, float],
    blur_mm: float,
    view_var: NDArray[np.float64] | None = None,
    boost: tuple[float, float] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Noise power spectra on the ``rfft2`` grid of a ``shape`` slice: lateral and AP.

    The noise power spectrum of filtered back-projection is the ramp filter times the squared
    reconstruction kernel: ``NPS(f) = (f + f0) exp(-4 pi^2 sigma^2 f^2)`` (f in cycles/mm,
    sigma = ``blur_mm``, the kernel's Gaussian PSF; ``f0`` = :data:`NPS_FLOOR` times the peak
    frequency keeps some power at the lowest frequencies, as helical interpolation does),
    times ``B(f)^2`` for a sharp kernel's edge boost ``boost = (edge_boost, boost_freq)``
    (:func:`kernel_boost`: the peak moves to higher frequencies, finer grain). The
    spectrum is split into two halves by direction: lateral rays (along axis 1, x) put their
    noise where ``|f_y| > |f_x|`` (texture elongated along x), antero-posterior rays the other
    half; the two halves are independent and add up to the isotropic spectrum. ``view_var``
    (variance of the central ray per view angle, evenly spaced over 180 degrees
    from lateral rays) weights each frequency direction by the view whose rays run across it,
    so the texture is elongated along the most attenuated direction.

    Pixels coarser than :data:`ALIAS_ABOVE_MM` sample the finely reconstructed noise, as an
    image resampled by interpolation does: the spectrum's aliases are folded back below the
    Nyquist frequency (nearly white noise at 3 mm; without the folding the ramp made
    neighbouring 3 mm pixels anti-correlated, -0.1 to -0.35, where the real example's 3 mm
    resampling measures -0.08 to 0.17).

    Returns:
        ``(lateral, ap)`` float32 ``(shape[0], shape[1] // 2 + 1)`` power spectra.
    """
    py, px = spacing_mm
    fy = np.fft.fftfreq(shape[0], py).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1], px).astype(np.float32)[None, :]
    sigma = max(blur_mm, 0.05)
    if max(py, px) <= ALIAS_ABOVE_MM:
        return _directional_power(fy, fx, sigma, view_var, boost)
    gain = (1.0 + boost[0]) ** 2 if boost is not None and boost[0] > 0 else 1.0
    f_max = math.sqrt(math.log(1e3 * gain)) / (2.0 * math.pi * sigma)  # NPS below 1e-3 beyond
    out = [np.zeros((shape[0], fx.shape[1]), dtype=np.float32) for _ in range(2)]
    ny, nx = math.ceil(f_max * py + 0.5), math.ceil(f_max * px + 0.5)
    for a in range(-ny, ny + 1):
        for b in range(-nx, nx + 1):
            gy, gx = fy + np.float32(a / py), fx + np.float32(b / px)
            pws = _directional_power(gy, gx, sigma, view_var, boost)
            for acc, pw in zip(out, pws, strict=True):
                acc += pw
    return out[0], out[1]


def _rfft_weights(n_cols: int, n: int) -> NDArray[np.float64]:
    """How many frequencies each ``rfft`` column of an ``n``-point axis stands for (1 or 2)."""
    cw = np.full(n_cols, 2.0)
    cw[0] = 1.0
    if n % 2 == 0:
        cw[-1] = 1.0
    return cw


def streak_angles(rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Starved view angles of one case and their weights.

    :data:`STREAK_LINES` ray directions drawn within +-:data:`STREAK_FAN_DEG` of lateral, with a
    power weight per line (0.3-1: one or two lines dominate). Noise slice ``s`` carries the lines
    of view ``s % STREAK_LINES``; how strong they are at each position follows from how starved
    that view's rays are (:func:`streak_sd_maps`).

    Returns:
        ``(angles, weights)``: ``(STREAK_LINES,)`` ray directions (radians from the x axis) and
        ``(STREAK_LINES,)`` weights.
    """
    angles = np.radians(rng.uniform(-STREAK_FAN_DEG, STREAK_FAN_DEG, STREAK_LINES))
    weights = rng.uniform(0.3, 1.0, STREAK_LINES)
    return angles, weights


def streak_fields(
    spec: NDArray[np.complex64],
    shape: tuple[int, int],
    spacing_mm: tuple[float, float],
    blur_mm: float,
    angles: NDArray[np.float64],
    weights: NDArray[np.float64],
    boost: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    """Photon-starvation streak fields from white noise spectra: thin lines at a few angles.

    A starved view's noisy rays are ramp-filtered and blurred by the kernel before they are
    back-projected, so each makes a line along the ray direction whose cross profile has the
    power spectrum ``f^2 K(f)^2`` (``K`` the kernel's transfer function: Gaussian of sigma
    ``blur_mm``, times a sharp kernel's edge boost :func:`kernel_boost`): zero mean, a dark or
    bright core with opposite side bands. In frequency space
    a line along angle ``theta`` lies on the line through the origin at ``theta + 90 deg``;
    each slice's spectrum is the sum of narrow wedges (:data:`STREAK_WEDGE_DEG`) at its
    ``angles``, weighted by ``weights``, looked up from a table of :data:`STREAK_ANGLE_BINS`
    angular bins.

    Args:
        spec: ``(n, Nj, Ni // 2 + 1)`` ``rfft2`` of unit white noise (shared with the noise).
        shape: ``(Nj, Ni)`` in-plane size.
        spacing_mm: ``(y, x)`` pixel size (mm).
        blur_mm: Kernel sigma (mm).
        angles: ``(n, L)`` ray directions per slice (radians from the x axis).
        weights: ``(L,)`` power weight of each line.
        boost: ``(edge_boost, boost_freq)`` of a sharp kernel, or None.

    Returns:
        ``(n, Nj, Ni)`` float32 fields, each of unit variance (expected over the noise).
    """
    n = spec.shape[0]
    fy = np.fft.fftfreq(shape[0], spacing_mm[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1], spacing_mm[1]).astype(np.float32)[None, :]
    f2 = fy * fy + fx * fx
    sigma = max(blur_mm, 0.05)
    amp = np.sqrt(f2) * np.exp(np.float32(-2.0 * math.pi**2 * sigma**2) * f2)  # |f| K(f)
    if boost is not None and boost[0] > 0:
        amp *= kernel_boost(f2, *boost)
    nb = STREAK_ANGLE_BINS
    # frequency direction -> bin over [0, pi)
    pos = np.mod(np.arctan2(fy, fx), np.float32(math.pi)) * np.float32(nb / math.pi)
    idx = np.minimum(pos.astype(np.intp), nb - 1)
    centres = (np.arange(nb) + 0.5) * (math.pi / nb)
    inv = 0.5 / math.radians(STREAK_WEDGE_DEG) ** 2
    cw = _rfft_weights(fx.shape[1], shape[1])
    filt = np.empty(spec.shape, dtype=np.float32)
    for s in range(n):
        table = np.zeros(nb)
        for th, wt in zip(angles[s], weights, strict=True):
            d = np.mod(centres - th, math.pi) - 0.5 * math.pi  # from theta + 90 deg, wrapped
            table += wt * np.exp(-inv * d * d)
        np.take(np.sqrt(table).astype(np.float32), idx, out=filt[s])
        filt[s] *= amp
        # expected variance of the filtered unit white noise: mean of |H|^2 over all frequencies
        var = float(np.sum((filt[s].astype(np.float64) ** 2) * cw)) / (shape[0] * shape[1])
        filt[s] *= np.float32(1.0 / math.sqrt(max(var, 1e-20)))
    return sfft.irfft2(spec * filt, s=shape, workers=1).astype(np.float32, copy=False)


def fbp_noise_fields(
    n: int,
    shape: tuple[int, int],
    spacing_mm: tuple[float, float],
    nps_sigma_mm: float,
    z_sigma_slices: float,
    rng: np.random.Generator,
    lateral_share: float = 0.5,
    view_var: NDArray[np.float64] | None = None,
    keep_spectrum: bool = False,
    boost: tuple[float, float] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.complex64] | None]:
    """Unit-variance CT noise with the FBP noise power spectrum (:func:`_fbp_filters`).

    ``n`` slices of white noise are filtered along the slice axis (a circular Gaussian of
    ``z_sigma_slices``: overlapping slices share noise) and in-plane by the lateral and AP
    halves of the spectrum, weighted so that the lateral half carries ``lateral_share`` of the
    variance (and by ``view_var`` within each half). The fields are periodic in-plane, so any
    window of them is seamless noise.

    Args:
        n: Number of slices.
        shape: ``(Nj, Ni)`` in-plane size.
        spacing_mm: ``(y, x)`` pixel size (mm).
        nps_sigma_mm: Roll-off sigma of the noise power spectrum (mm).
        z_sigma_slices: Slice sensitivity profile sigma in slices (0: independent slices).
        rng: Random generator.
        lateral_share: Share of the variance from lateral views (0.5: isotropic).
        view_var: Variance per view angle (see :func:`_fbp_filters`).
        keep_spectrum: Also return the white noise's spectrum (for :func:`streak_fields`).
        boost: ``(edge_boost, boost_freq)`` of a sharp kernel (:func:`kernel_boost`), or None.

    Returns:
        ``(noise, spectrum)``: ``(n, Nj, Ni)`` float32 fields of unit variance and the
        ``rfft2`` of the (z-mixed) white noise, None unless asked for.
    """
    white = rng.standard_normal((n, *shape), dtype=np.float32)
    if z_sigma_slices > 0.05 and n > 2:
        r = min(int(2.0 * z_sigma_slices + 0.5), (n - 1) // 2)
        w = np.exp(-0.5 * (np.arange(-r, r + 1) / z_sigma_slices) ** 2)
        w = (w / np.sqrt(np.sum(w**2))).astype(np.float32)
        if r > 0:
            mixed = np.empty_like(white)
            for s in range(n):
                np.multiply(white[s], w[r], out=mixed[s])
                for t in range(2 * r + 1):
                    if t != r:
                        mixed[s] += w[t] * white[(s + t - r) % n]
            white = mixed
    spec = sfft.rfft2(white, workers=1)
    del white
    lat_f, ap_f = _fbp_filters(shape, spacing_mm, nps_sigma_mm, view_var, boost)
    cw = _rfft_weights(lat_f.shape[1], shape[1])

    def total(pw: NDArray[np.float32]) -> float:
        return max(float(np.sum(pw.astype(np.float64) * cw)), 1e-12)

    ls = min(max(lateral_share, 0.0), 1.0)
    filt = np.sqrt(
        np.float32(ls / total(lat_f)) * lat_f + np.float32((1.0 - ls) / total(ap_f)) * ap_f
    )
    field_ = sfft.irfft2(spec * filt, s=shape, workers=1).astype(np.float32, copy=False)
    # unit variance: the filter's power sums to 1 over the half spectrum (sum(cw * filt^2)),
    # so the field's expected variance is 1 / (Nj * Ni)
    field_ *= np.float32(math.sqrt(shape[0] * shape[1]))
    return field_, (spec if keep_spectrum else None)


def _projector(
    shape: tuple[int, int],
    pixel_mm: tuple[float, float],
    n_angles: int,
    angles: NDArray[np.float64] | None = None,
) -> tuple[sparse.csc_matrix, NDArray[np.float64], int, float]:
    """Parallel-beam interpolation matrix of a small ``(mj, mi)`` grid (pixel-driven, linear).

    Ray direction angle ``theta`` in ``[0, pi)`` from the x axis (theta = 0: lateral rays, one
    per row), ``n_angles`` evenly spaced unless ``angles`` are given; detector coordinate
    ``t = -x sin(theta) + y cos(theta)`` (``x``, ``y`` from the grid's centre), bins ``pixel``
    apart.

    Returns:
        ``(W, angles, n_t, dt)``: W ``(n_angles * n_t, mj * mi)`` linear weights of each pixel
        centre on its two nearest bins (``W @ m * area / dt`` projects, ``W.T @ q``
        back-projects).
    """
    mj, mi = shape
    cj, ci = pixel_mm
    dt = min(cj, ci)
    y = (np.arange(mj) - (mj - 1) / 2.0) * cj
    x = (np.arange(mi) - (mi - 1) / 2.0) * ci
    half = 0.5 * math.hypot(mj * cj, mi * ci)
    n_t = 2 * math.ceil(half / dt) + 2
    if angles is None:
        angles = np.arange(n_angles, dtype=np.float64) * (math.pi / n_angles)
    n_angles = len(angles)
    # detector bin position u of each (pixel, angle), pixel-major: (mj, mi, n_angles)
    u = (y / dt)[:, None, None] * np.cos(angles) - (x / dt)[None, :, None] * np.sin(angles)
    u += (n_t - 1) / 2.0
    u0 = np.floor(u)
    u -= u0  # fraction
    # compressed columns built directly: per pixel, per angle, its two bins (ascending)
    rows = np.empty((mj, mi, n_angles, 2), dtype=np.int32)
    rows[..., 0] = u0
    rows[..., 0] += np.arange(n_angles, dtype=np.int32) * n_t
    np.add(rows[..., 0], 1, out=rows[..., 1])
    vals = np.empty((mj, mi, n_angles, 2), dtype=np.float64)
    np.subtract(1.0, u, out=vals[..., 0])
    vals[..., 1] = u
    ptr = np.arange(0, 2 * n_angles * mj * mi + 1, 2 * n_angles, dtype=np.int32)
    w = sparse.csc_matrix(
        (vals.reshape(-1), rows.reshape(-1), ptr), shape=(n_angles * n_t, mj * mi)
    )
    return w, angles, n_t, dt


def _fbp(err: NDArray[np.float64], w: sparse.csc_matrix, dt: float) -> NDArray[np.float64]:
    """Filtered back-projection of ``(n_angles, n_t, n_cols)`` ray values on ``w``'s grid.

    Ramp filter with a Hann window (zero-padded to twice the detector), back-projected with
    ``pi / n_angles`` per view: ``(n_pix, n_cols)``.
    """
    n_angles, n_t = err.shape[:2]
    npad = 2 * n_t
    f = np.fft.rfftfreq(npad, dt)
    ramp = f * (0.5 + 0.5 * np.cos(math.pi * f / f[-1]))
    q = np.fft.irfft(np.fft.rfft(err, n=npad, axis=1) * ramp[None, :, None], n=npad, axis=1)
    q = np.ascontiguousarray(q[:, :n_t])
    return (w.T @ q.reshape(n_angles * n_t, -1)) * (math.pi / n_angles)


def _lin_index(
    n_fine: int, block: int, n_coarse: int, fine_block: int = 1
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]:
    """Linear interpolation from coarse block centres to fine pixel centres along one axis
    (``block`` and ``fine_block``: image pixels per coarse and per fine pixel)."""
    pos = ((np.arange(n_fine) + 0.5) * fine_block - 0.5 - (block - 1) / 2.0) / block
    pos = np.clip(pos, 0.0, n_coarse - 1.0)
    i0 = np.minimum(np.floor(pos).astype(np.intp), max(n_coarse - 2, 0))
    i1 = np.minimum(i0 + 1, n_coarse - 1)
    return i0, i1, (pos - i0).astype(np.float32)


@dataclass(frozen=True)
class _Upsampler:
    """Bilinear upsampling of ``(mj, mi)`` maps to ``(nj, ni)`` slices (separable gathers)."""

    j: tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]
    i: tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]

    def __call__(
        self, m: NDArray[np.float32], win: tuple[slice, slice] | None = None
    ) -> NDArray[np.float32]:
        """``m`` upsampled, or only its window ``win`` of the fine grid."""
        j0, j1, wj = self.j
        i0, i1, wi = self.i
        if win is not None:
            j0, j1, wj = j0[win[0]], j1[win[0]], wj[win[0]]
            i0, i1, wi = i0[win[1]], i1[win[1]], wi[win[1]]
        rows = m[j0] * (1.0 - wj[:, None]) + m[j1] * wj[:, None]
        out = np.take(rows, i0, axis=1)  # C order (rows[:, i0] would be Fortran order: slow)
        out *= 1.0 - wi
        out += np.take(rows, i1, axis=1) * wi
        return np.ascontiguousarray(out, dtype=np.float32)


@dataclass(frozen=True)
class ScannerMaps:
    """Coarse scanner maps of one image (:func:`scanner_maps`).

    Attributes:
        chunk_of_slice: ``(nk,)`` chunk index of each slice.
        maps: ``(n_chunks, 3, mj, mi)`` float32: noise SD (HU), zero (the streak SD of each
            starved view comes from :func:`streak_sd_maps`), water beam-hardening (cupping)
            error (HU) on the coarse grid.
        block: ``(bj, bi)`` image pixels per coarse pixel.
        view_var: ``(N_ANGLES,)`` noise variance of each view's most attenuated ray (median
            over the chunks), views from lateral rays (0) over 180 degrees.
        lateral_share: Median share of the noise variance from near-lateral views in the body.
        bh: ``(n_chunks, mjb, mib)`` float32 beam-hardening error (HU; bone and water) on
            the :data:`BH_MM` grid, or None.
        bh_block: ``(bjb, bib)`` image pixels per pixel of that grid.
        mu: ``(n_chunks, mj * mi)`` water-relative attenuation of the coarse grid.
        pixel_mm: ``(cj, ci)`` coarse pixel size (mm).
    """

    chunk_of_slice: NDArray[np.intp]
    maps: NDArray[np.float32]
    block: tuple[int, int]
    view_var: NDArray[np.float64]
    lateral_share: float
    bh: NDArray[np.float32] | None = None
    bh_block: tuple[int, int] = (1, 1)
    mu: NDArray[np.float64] | None = None
    pixel_mm: tuple[float, float] = (1.0, 1.0)


def _grid_block(n: int, spacing: float, mm: float) -> tuple[int, int]:
    """Image pixels per grid pixel of about ``mm`` (a whole number of sampling steps) and the
    sampling step along one axis."""
    blk = max(1, min(n, round(mm / spacing)))
    step = max(1, blk // 4)
    return blk - blk % step, step


@dataclass(frozen=True)
class SliceSource:
    """Axial slices of a ``(nk, nj, ni)`` image that is not held whole (streamed in slabs).

    Attributes:
        shape: ``(nk, nj, ni)`` shape of the image.
        get: ``get(ks)`` returns the ``(len(ks), nj, ni)`` float32 slices ``ks``.
    """

    shape: tuple[int, int, int]
    get: Callable[[list[int]], NDArray[np.float32]]


def _sampled_maps(
    hu: NDArray[np.float32] | SliceSource,
    starts: list[int],
    kc: int,
    step: tuple[int, int],
    size: tuple[int, int],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per chunk: water-relative attenuation ``1 + HU/1000`` and bone-equivalent fraction
    ``HU/1000 - 0.15`` (above 150 HU), averaged over two slices of the chunk and sampled every
    ``step`` pixels over the first ``size`` pixels: two ``(n_chunks, size_j / step_j,
    size_i / step_i)`` arrays."""
    nk = hu.shape[0]
    mu_s = np.empty((len(starts), size[0] // step[0], size[1] // step[1]), dtype=np.float32)
    bone_s = np.empty_like(mu_s)
    for c, k0 in enumerate(starts):
        k1 = min(nk, k0 + kc)
        ks = sorted({k0 + (k1 - k0) // 3, k0 + (2 * (k1 - k0)) // 3})
        if isinstance(hu, SliceSource):
            sub = hu.get(ks)[:, : size[0] : step[0], : size[1] : step[1]]
        else:
            sub = hu[ks, : size[0] : step[0], : size[1] : step[1]]
        mu = np.clip(sub * np.float32(0.001) + np.float32(1.0), 0.0, None)
        bn = np.clip(sub * np.float32(0.001) - np.float32(0.15), 0.0, None)
        mu_s[c] = mu.mean(axis=0)
        bone_s[c] = bn.mean(axis=0)
    return mu_s, bone_s


def _block_mean(m: NDArray[np.float32], block: tuple[int, int]) -> NDArray[np.float64]:
    """Means of ``block`` pixels of each ``(n_chunks, J, I)`` map: ``(n_chunks, mj * mi)``."""
    nc, nj, ni = m.shape
    mj, mi = nj // block[0], ni // block[1]
    v = m[:, : mj * block[0], : mi * block[1]]
    # sums of strided views (numpy reduces short inner axes slowly)
    cols = v[:, :, 0 :: block[1]].copy()
    for b in range(1, block[1]):
        cols += v[:, :, b :: block[1]]
    acc = cols[:, 0 :: block[0]].copy()
    for a in range(1, block[0]):
        acc += cols[:, a :: block[0]]
    return (acc.reshape(nc, mj * mi) * (1.0 / (block[0] * block[1]))).astype(np.float64)


def scanner_maps(
    hu: NDArray[np.float32] | SliceSource,
    spacing_kji_mm: tuple[float, float, float],
    physics: Physics,
) -> ScannerMaps:
    """Coarse per-chunk maps of noise SD (lateral, AP, streak) and beam-hardening error.

    Each chunk of slices (about :data:`CHUNK_MM` along z) is reduced to a coarse attenuation map
    (:data:`COARSE_MM` pixels, water-relative attenuation ``1 + HU/1000``), projected along
    :data:`N_ANGLES` parallel-beam directions, and then:

    - noise: each ray's variance is ``exp(mu_w * path) / I``, with the water-equivalent path in
      mm, ``mu_w`` = :data:`MU_WATER_PER_MM` and the tube current ``I`` of its view set by
      longitudinal modulation (``I ~ A_c^aec``, ``A_c`` the attenuation ``exp(mu_w path)`` of
      the chunk's most attenuated ray) and a weaker angular one (times ``(A_v / A_c)^a``,
      ``A_v`` that of the view's most attenuated ray, ``a = aec *`` :data:`ANGULAR_AEC`). Back-
      projected this gives the noise variance at each pixel (higher in the body centre and in
      rows along the widest path), scaled so that the median SD over the body is
      ``physics.noise_hu``; and the share of it from the views within 45 deg of lateral (whose
      noise makes the lateral half of the spectrum, :func:`fbp_noise_fields`). A floor of
      :data:`NOISE_FLOOR` times the median variance is added, split between the lateral and AP
      views as their variance is.
    - photon starvation: see :func:`streak_sd_maps` (from the same coarse maps).
    - beam hardening: each ray loses ``k_b * bone_path^2`` (bone path: ``(HU - 150)/1000 * mm``
      above 150 HU), reconstructed by filtered back-projection (ramp with a Hann window) on a
      finer grid (:data:`BH_MM`, :data:`BH_ANGLES` views): rays through two dense bones lose
      more than the sum of each (the cross term ``2 b1 b2``), so a dark band joins them, with
      bright side bands. The residual water cupping ``k_w * path^2`` uses the coarse grid.

    Returns:
        The coarse maps (:class:`ScannerMaps`).
    """
    nk, nj, ni = hu.shape
    sk, sj, si = spacing_kji_mm
    bj, step_j = _grid_block(nj, sj, COARSE_MM)
    bi, step_i = _grid_block(ni, si, COARSE_MM)
    mj, mi = nj // bj, ni // bi
    kc = max(1, round(CHUNK_MM / sk))
    starts = list(range(0, nk, kc))
    chunk_of_slice = (np.arange(nk) // kc).astype(np.intp)
    # coarse water-relative attenuation: two slices per chunk, sampled every few pixels and
    # averaged over blocks of bj x bi pixels (the beam-hardening grid uses the same samples)
    mu_s, bone_s = _sampled_maps(hu, starts, kc, (step_j, step_i), (mj * bj, mi * bi))
    maps = _block_mean(mu_s, (bj // step_j, bi // step_i))
    cj, ci = bj * sj, bi * si
    w, angles, n_t, dt = _projector((mj, mi), (cj, ci), N_ANGLES)
    scale = cj * ci / dt
    path = (w @ maps.T).reshape(N_ANGLES, n_t, -1) * scale  # water-equivalent mm
    # noise: per-ray variance with tube-current modulation over views and chunks
    mu_p = MU_WATER_PER_MM * path
    view_max = mu_p.max(axis=1, keepdims=True)  # (N_ANGLES, 1, n_chunks)
    chunk_max = view_max.max(axis=0, keepdims=True)
    # log tube current: full modulation along z, a weaker one over the views
    log_i = physics.aec * chunk_max + (physics.aec * ANGULAR_AEC) * (view_max - chunk_max)
    var_ray = np.exp(mu_p - log_i)
    # variance of each view's most attenuated ray, median over the chunks
    view_var = np.median(np.exp(view_max - log_i)[:, 0, :], axis=1)
    # a view's noise lies on the frequencies across its rays: views within 45 deg of lateral
    # make the lateral half of the spectrum (fbp_noise_fields), the others the AP half
    c2 = np.cos(angles) ** 2
    lat_w = np.where(c2 > 0.5 + 1e-9, 1.0, np.where(c2 > 0.5 - 1e-9, 0.5, 0.0))[:, None, None]
    body = maps.T > 0.5  # (n_pix, n_chunks)
    var_lat = (w.T @ (var_ray * lat_w).reshape(N_ANGLES * n_t, -1)) / N_ANGLES
    var_ap = (w.T @ (var_ray * (1.0 - lat_w)).reshape(N_ANGLES * n_t, -1)) / N_ANGLES
    # position-independent part (the bowtie filter that evens out each view's detector signal,
    # scatter, electronic noise): a share of the median variance over the body, split between
    # the lateral and AP views as their variance is (it evens out the rays of a view, not the
    # views)
    if body.any():
        v_lat, v_all = float(np.sum(var_lat[body])), float(np.sum((var_lat + var_ap)[body]))
        floor = NOISE_FLOOR * float(np.median((var_lat + var_ap)[body]))
        f_lat = v_lat / v_all if v_all > 0 else 0.5
        var_lat += f_lat * floor
        var_ap += (1.0 - f_lat) * floor
    total = np.sqrt(var_lat + var_ap)
    ref = float(np.median(total[body])) if body.any() else float(np.median(total))
    share = var_lat / np.maximum(var_lat + var_ap, 1e-12)
    lateral_share = float(np.median(share[body])) if body.any() else 0.5
    out = np.zeros((len(starts), 3, mj * mi), dtype=np.float32)
    out[:, 0] = (total * (physics.noise_hu / ref if ref > 0 else 0.0)).T
    if physics.water_bh > 0:
        rec = _fbp(-physics.water_bh * path**2, w, dt)  # per ray: mm of water lost
        rec -= np.median(rec[body]) if body.any() else 0.0  # a global offset is no artefact
        out[:, 2] = (1000.0 * rec).T
    bh = None
    # sampled pixels per beam-hardening pixel (about BH_MM)
    gj = max(1, round(BH_MM / (sj * step_j)))
    gi = max(1, round(BH_MM / (si * step_i)))
    bh_block = (gj * step_j, gi * step_i)
    if physics.bone_bh > 0 or physics.water_bh > 0:
        mjb, mib = (mj * bj) // bh_block[0], (mi * bi) // bh_block[1]
        bh = np.zeros((len(starts), mjb, mib), dtype=np.float32)
        if physics.bone_bh > 0:
            mu_b, bone_b = _block_mean(mu_s, (gj, gi)), _block_mean(bone_s, (gj, gi))
            cjb, cib = bh_block[0] * sj, bh_block[1] * si
            wb, _, n_tb, dtb = _projector((mjb, mib), (cjb, cib), BH_ANGLES)
            bpath = (wb @ bone_b.T).reshape(BH_ANGLES, n_tb, -1) * (cjb * cib / dtb)
            rec = _fbp(-physics.bone_bh * bpath**2, wb, dtb)
            body_b = mu_b.T > 0.5
            rec -= np.median(rec[body_b]) if body_b.any() else 0.0
            bh += (1000.0 * rec.T).astype(np.float32).reshape(len(starts), mjb, mib)
        if physics.water_bh > 0:  # the coarse cupping resampled onto this grid
            to_bh = _Upsampler(
                _lin_index(mjb, bj, mj, bh_block[0]), _lin_index(mib, bi, mi, bh_block[1])
            )
            for c in range(len(starts)):
                bh[c] += to_bh(out[c, 2].reshape(mj, mi))
    return ScannerMaps(
        chunk_of_slice,
        out.reshape(len(starts), 3, mj, mi),
        (bj, bi),
        view_var,
        lateral_share,
        bh,
        bh_block,
        maps,
        (cj, ci),
    )


def streak_sd_maps(
    sm: ScannerMaps,
    angles: NDArray[np.float64],
    weights: NDArray[np.float64],
    starvation_hu: float,
) -> NDArray[np.float32]:
    """Streak SD of each starved view, per chunk, on the coarse grid: rays anchored to the bone.

    Where a ray's counts fall below the electronic noise (water-equivalent path beyond
    :data:`STARVATION_PATH_MM`) its variance grows as ``exp(2 mu_w (path - L))``; the view's
    longest ray sets the level (the exponent capped at :data:`STARVATION_MAX_LOG`) and its
    shorter rays fall off as their counts rise, ``exp(2 mu_w (path - longest))``. Filtered
    back-projection spreads each ray's error evenly along the ray, so the SD at a pixel is that
    of the view's ray through it: a band along the view direction through the longest paths
    (both femoral heads, the shoulders, the arms), as strong beside the skin as between the
    bones. Views further from lateral than :data:`STREAK_FAN_DEG` are not starved; the SD tapers
    towards that angle.

    Args:
        sm: Coarse maps of the image (:func:`scanner_maps`).
        angles: ``(L,)`` view (ray) directions, radians from the x axis.
        weights: ``(L,)`` power weight of each view (normalized to a mean of 1).
        starvation_hu: Streak SD (HU) of a ray at the reference path.

    Returns:
        ``(n_chunks, L, mj, mi)`` float32 streak SD (HU).
    """
    if sm.mu is None:
        raise ValueError("scanner maps without the coarse attenuation")
    n_chunks, _, mj, mi = sm.maps.shape
    cj, ci = sm.pixel_mm
    theta = np.mod(np.asarray(angles, dtype=np.float64), math.pi)
    w, _, n_t, dt = _projector((mj, mi), (cj, ci), 0, theta)
    path = (w @ sm.mu.T).reshape(len(theta), n_t, n_chunks) * (cj * ci / dt)
    p_max = path.max(axis=1, keepdims=True)
    excess = np.exp(
        np.minimum(2.0 * MU_WATER_PER_MM * (p_max - STARVATION_PATH_MM), STARVATION_MAX_LOG)
        + 2.0 * MU_WATER_PER_MM * (path - p_max)
    )
    fan = math.radians(STREAK_FAN_DEG) + 1e-9
    off = np.minimum(theta, math.pi - theta)  # angle from lateral
    taper = np.where(off <= fan, 1.0 - off / (1.5 * fan), 0.0)
    wts = np.asarray(weights, dtype=np.float64)
    wts = wts / max(float(np.mean(wts)), 1e-12)
    sd = starvation_hu * np.sqrt(excess * (taper * wts)[:, None, None])  # (L, n_t, n_chunks)
    out = np.empty((n_chunks, len(theta), mj * mi), dtype=np.float32)
    for v in range(len(theta)):  # each pixel reads its ray (linear between the two bins)
        out[:, v] = (w[v * n_t : (v + 1) * n_t].T @ sd[v]).T
    return out.reshape(n_chunks, len(theta), mj, mi)


def _gauss_weights(sigma: float, truncate: float = 2.0) -> tuple[int, NDArray[np.float32]]:
    """Radius and normalized float32 weights of a sampled Gaussian (as :func:`blur_axis`)."""
    r = int(truncate * sigma + 0.5) if sigma > 0.05 else 0
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / max(sigma, 0.05)) ** 2)
    return r, (w / w.sum()).astype(np.float32)


class _SliceBlur:
    """Separable Gaussian blur of ``(nj, ni)`` slices with mirrored ends, in reused buffers.

    Each slice is copied into a buffer with mirrored margins and blurred along x and then y
    with sums of shifted contiguous views while it is in cache. ``scale_last`` multiplies the
    weights of the last pass (folds a factor into the blur at no cost).
    """

    def __init__(
        self,
        nj: int,
        ni: int,
        sigma_j: float,
        sigma_i: float,
        truncate: float,
        scale_last: float = 1.0,
    ) -> None:
        rj, wj = _gauss_weights(sigma_j, truncate) if nj > 1 else (0, np.ones(1, np.float32))
        ri, wi = _gauss_weights(sigma_i, truncate) if ni > 1 else (0, np.ones(1, np.float32))
        self.rj, self.ri = min(rj, nj - 1), min(ri, ni - 1)
        if self.rj > 0:
            wj = wj * np.float32(scale_last)
        else:
            wi = wi * np.float32(scale_last)
        self.wj, self.wi = wj, wi
        self.identity = self.rj == 0 and self.ri == 0
        self.px = np.empty((nj, ni + 2 * self.ri), dtype=np.float32)  # x-padded input slice
        self.py = np.empty((nj + 2 * self.rj, ni), dtype=np.float32)  # y-padded x-blurred
        self.res = np.empty((nj, ni), dtype=np.float32)
        self.tmp = np.empty((nj, ni), dtype=np.float32)

    def __call__(self, src: NDArray[np.float32]) -> NDArray[np.float32]:
        """The blurred slice (or window of one, at most the full slice): a view of a buffer,
        valid until the next call."""
        rj, ri, wj, wi = self.rj, self.ri, self.wj, self.wi
        nj, ni = src.shape
        rj, ri = min(rj, nj - 1), min(ri, ni - 1)
        wj, wi = wj[self.rj - rj : self.rj + rj + 1], wi[self.ri - ri : self.ri + ri + 1]
        px, py = self.px[:, : ni + 2 * ri], self.py[: nj + 2 * rj]
        px, py = px[:nj], py[:, :ni]
        res, tmp = self.res[:nj, :ni], self.tmp[:nj, :ni]
        xb = py[rj : rj + nj]
        if ri > 0:
            px[:, ri : ri + ni] = src
            for d in range(1, ri + 1):  # mirrored ends (scipy's "reflect")
                px[:, ri - d] = src[:, d - 1]
                px[:, ri + ni - 1 + d] = src[:, ni - d]
            np.multiply(px[:, ri : ri + ni], wi[ri], out=xb)
            for d in range(1, ri + 1):
                np.add(px[:, ri - d : ri - d + ni], px[:, ri + d : ri + d + ni], out=tmp)
                tmp *= wi[ri + d]
                xb += tmp
        elif wi[0] != 1.0:
            np.multiply(src, wi[0], out=xb)
        else:
            xb[...] = src
        if rj == 0:
            return xb
        for d in range(1, rj + 1):
            py[rj - d] = py[rj + d - 1]
            py[rj + nj - 1 + d] = py[rj + nj - d]
        np.multiply(xb, wj[rj], out=res)
        for d in range(1, rj + 1):
            np.add(py[rj - d : rj - d + nj], py[rj + d : rj + d + nj], out=tmp)
            tmp *= wj[rj + d]
            res += tmp
        return res


#: Pixels at or below this HU (air, after the PSF) are left out of a sharp kernel's edge boost
#: unless within the boost's radius of brighter ones.
BOOST_AIR_HU = -950.0


def blur_inplane(
    img: NDArray[np.float32],
    sigma_j: float,
    sigma_i: float,
    then: Callable[[int, NDArray[np.float32]], None] | None = None,
    truncate: float = 2.0,
    boost: tuple[float, float, float] | None = None,
) -> None:
    """In-place separable Gaussian blur of each ``(nj, ni)`` slice of a ``(nk, nj, ni)`` volume.

    Same result as :func:`blur_axis` along axis 2 and then axis 1 (mirrored ends, to float32
    rounding), in one pass over the volume: each slice is copied into a buffer with mirrored
    margins and blurred along x and then y with sums of shifted contiguous views while it is
    in cache (0.24 s instead of 0.34 s for a 300 x 512 x 512 volume). ``then(k, slice_k)`` is
    called on each blurred slice before it is stored (used to add the noise).

    ``boost = (a, sigma_j, sigma_i)`` (a sharp kernel's edge boost, :func:`kernel_boost`;
    sigmas in pixels) then sharpens each blurred slice ``b`` with the unsharp mask
    ``(1 + a) b - a G_b b``, ``G_b`` a Gaussian of those sigmas (truncated as the blur): a
    bright overshoot inside and a dark undershoot outside every edge. It costs a second
    separable blur, only over the window around the body (everything above
    :data:`BOOST_AIR_HU`, widened by the mask's radius).
    """
    nk, nj, ni = img.shape
    main = _SliceBlur(nj, ni, sigma_j, sigma_i, truncate)
    low = None
    if boost is not None and boost[0] > 0:
        low = _SliceBlur(nj, ni, boost[1], boost[2], truncate, scale_last=-boost[0])
        if low.identity:
            low = None
    if main.identity and low is None:
        if then is not None:
            for k in range(nk):
                then(k, img[k])
        return
    gain = np.float32(1.0 + boost[0]) if boost is not None and low is not None else None
    for k in range(nk):
        if main.identity:
            done = main.res
            done[...] = img[k]
        else:
            done = main(img[k])
        if low is not None and gain is not None:
            # only in the window around everything above BOOST_AIR_HU, widened by the mask's
            # radius: outside it the slice is flat air, which the boost leaves as it is
            rows = np.flatnonzero(np.any(done > BOOST_AIR_HU, axis=1))
            if len(rows):
                cols = np.flatnonzero(np.any(done[rows[0] : rows[-1] + 1] > BOOST_AIR_HU, axis=0))
                win = (
                    slice(max(int(rows[0]) - low.rj, 0), min(int(rows[-1]) + 1 + low.rj, nj)),
                    slice(max(int(cols[0]) - low.ri, 0), min(int(cols[-1]) + 1 + low.ri, ni)),
                )
                sub = done[win]
                part = low(sub)  # -a G_b b
                sub *= gain
                sub += part
        if then is not None:
            then(k, done)
        img[k] = done


def add_noise_and_blur(
    hu: NDArray[np.float32],
    spacing_kji_mm: tuple[float, float, float],
    physics: Physics,
    rng: np.random.Generator,
) -> None:
    """In place: blur in-plane (the kernel's PSF and edge boost), then add noise, streaks, BH.

    The noise has the FBP noise power spectrum (:func:`fbp_noise_fields`: band-pass, grainy),
    its lateral and AP halves scaled by per-pixel SD maps from the projected attenuation
    (:func:`scanner_maps`). Photon-starvation streaks are thin lines along one of a few
    near-lateral view directions per slice (:func:`streak_fields`, :func:`streak_angles`),
    each scaled by its own view's starved-ray SD (:func:`streak_sd_maps`); beam hardening
    adds the reconstructed bone and water errors. Streaks and beam
    hardening are zero in air (pixels below :data:`AIR_HU` in each slice before the blur).
    Noise fields are drawn for :data:`NOISE_SLICES` slices on a slightly larger periodic grid
    and reused with flips and shifted windows (seamless; the repetition is invisible).

    Args:
        hu: ``(nk, nj, ni)`` float32 image, axial slices along axis 0.
        spacing_kji_mm: Voxel size along the three array axes.
        physics: Noise, blur and artefact parameters.
        rng: Random generator.
    """
    prepare_noise_and_blur(hu, spacing_kji_mm, physics, rng)(hu, 0)


def prepare_noise_and_blur(
    hu: NDArray[np.float32] | SliceSource,
    spacing_kji_mm: tuple[float, float, float],
    physics: Physics,
    rng: np.random.Generator,
) -> Callable[..., None]:
    """Draw the noise of :func:`add_noise_and_blur`; the returned function applies it to slabs.

    Everything random is drawn here, so the caller's generator is left where
    :func:`add_noise_and_blur` leaves it; applying the noise slab by slab (an image that is
    never held whole) gives the same values as the whole-volume call.

    Args:
        hu: ``(nk, nj, ni)`` float32 image before the blur, held whole or as a
            :class:`SliceSource` (:func:`scanner_maps` reads two slices per chunk).
        spacing_kji_mm: Voxel size along the three array axes.
        physics: Noise, blur and artefact parameters.
        rng: Random generator.

    Returns:
        ``apply(slab, k0, round_hu=False)``: in place, blurs the ``(n, nj, ni)`` float32
        slices ``k0 .. k0 + n - 1`` of the image and adds their noise, streaks and beam
        hardening; with ``round_hu`` also clips and rounds them (:func:`clip_round_hu`) while
        each slice is in cache.
    """
    nk, nj, ni = hu.shape
    sk, sj, si = spacing_kji_mm
    sm = scanner_maps(hu, spacing_kji_mm, physics)
    maps = sm.maps
    bj, bi = sm.block
    mj, mi = maps.shape[2:]
    shape = (
        sfft.next_fast_len(nj + TILE_PAD, real=True),
        sfft.next_fast_len(ni + TILE_PAD, real=True),
    )
    n = min(nk, NOISE_SLICES)
    # noise slice sensitivity: FWHM of overlap x spacing, at least SSP_MIN_MM (thin detectors);
    # the block average already is a rectangular profile of one slice (variance sk^2 / 12)
    fwhm = max(physics.slice_overlap * sk, SSP_MIN_MM)
    z_sigma = math.sqrt(max((fwhm / 2.3548) ** 2 - sk * sk / 12.0, 0.0)) / sk
    stk_sd = None
    ang = wts = np.zeros(0)
    if physics.starvation_hu > 0:
        # from a child generator: the caller's stream (orientation etc.) is left as it was
        ang, wts = streak_angles(rng.spawn(1)[0])
        stk_sd = streak_sd_maps(sm, ang, wts, physics.starvation_hu)
        if not np.any(stk_sd > 0.5):
            stk_sd = None
    sigma_nps = physics.blur_mm * (1.0 + physics.iterative)
    boost = (physics.edge_boost, physics.boost_freq) if physics.edge_boost > 0 else None
    noise, spec = fbp_noise_fields(
        n,
        shape,
        (sj, si),
        sigma_nps,
        z_sigma,
        rng,
        sm.lateral_share,
        sm.view_var,
        keep_spectrum=stk_sd is not None,
        boost=boost,
    )
    up = _Upsampler(_lin_index(nj, bj, mj), _lin_index(ni, bi, mi))
    up_bh = None
    if sm.bh is not None:
        bjb, bib = sm.bh_block
        mjb, mib = sm.bh.shape[1:]
        up_bh = _Upsampler(_lin_index(nj, bjb, mjb), _lin_index(ni, bib, mib))
    n_pass = -(-nk // n)
    offs = rng.integers(0, [shape[0] - nj + 1, shape[1] - ni + 1], size=(n_pass, 2))
    flips = rng.integers(0, 4, size=n_pass)
    stk = None
    line_of = np.arange(n) % max(len(ang), 1)  # noise slice -> its view
    if stk_sd is not None and spec is not None:
        stk = streak_fields(
            spec, shape, (sj, si), sigma_nps, ang[line_of][:, None], np.ones(1), boost
        )
    del spec
    tmp = np.empty((nj, ni), dtype=np.float32)
    state: dict[str, Any] = {"chunk": -1, "need_s": False, "win": None, "bh": None}

    def new_chunk(k: int, c: int) -> None:
        state["chunk"] = c
        state["sd"] = up(maps[c, 0])
        state["sd_s"] = {}
        state["bh"] = None
        state["win"] = None
        state["need_s"] = False
        need_s = stk is not None and stk_sd is not None and bool(np.any(stk_sd[c] > 0.5))
        need_bh = sm.bh is not None and bool(np.any(np.abs(sm.bh[c]) > 0.5))
        if not (need_s or need_bh):
            return
        # window around the body: the coarse attenuation map's tissue (two slices of the
        # chunk, 8 mm pixels) widened by AIR_MARGIN pixels; each slice's own mask is taken
        # in add_noise
        if sm.mu is None:
            return
        tissue = sm.mu[c].reshape(mj, mi) > 0.25
        rows, cols = np.flatnonzero(tissue.any(axis=1)), np.flatnonzero(tissue.any(axis=0))
        if len(rows) == 0:
            return
        a = AIR_MARGIN
        win = (
            slice(max(0, (int(rows[0]) - a) * bj), min(nj, (int(rows[-1]) + 1 + a) * bj)),
            slice(max(0, (int(cols[0]) - a) * bi), min(ni, (int(cols[-1]) + 1 + a) * bi)),
        )
        state["win"] = win
        state["mask"] = np.empty((win[0].stop - win[0].start, win[1].stop - win[1].start), bool)
        state["need_s"] = need_s
        if need_bh and sm.bh is not None and up_bh is not None:
            state["bh"] = up_bh(sm.bh[c], win)

    def add_noise(k: int, out: NDArray[np.float32], raw: NDArray[np.float32]) -> None:
        c = int(sm.chunk_of_slice[k])
        if c != state["chunk"]:
            new_chunk(k, c)
        p, s = divmod(k, n)
        if flips[p] & 2:  # slices in reverse order (a column flip would be slow: stride -4)
            s = n - 1 - s
        oj, oi = int(offs[p, 0]), int(offs[p, 1])
        sl = (s, slice(oj, oj + nj), slice(oi, oi + ni))
        view = noise[sl][::-1] if flips[p] & 1 else noise[sl]
        np.multiply(view, state["sd"], out=tmp)
        out += tmp
        win = state["win"]
        if win is None:
            return
        wj, wi = win
        part = tmp[wj, wi]
        if state["need_s"] and stk is not None and stk_sd is not None:
            # not flipped: the lines keep their view's direction, anchored to its rays
            v = int(line_of[s])
            env = state["sd_s"].get(v)
            if env is None:
                env = state["sd_s"][v] = up(stk_sd[c, v], win)
            np.multiply(stk[sl][wj, wi], env, out=part)
            if state["bh"] is not None:
                part += state["bh"]
        elif state["bh"] is not None:
            part[...] = state["bh"]
        else:
            return
        # zero in air: this slice's own mask (``raw``: the slice before the blur)
        mask = state["mask"]
        np.greater(raw[wj, wi], AIR_HU, out=mask)
        part *= mask
        out[wj, wi] += part

    sig_j, sig_i = max(physics.blur_mm / sj, 0.0), max(physics.blur_mm / si, 0.0)
    img_boost = None
    if boost is not None:
        sb = boost_sigma_mm(physics.boost_freq)
        img_boost = (physics.edge_boost, sb / sj, sb / si)

    def apply(slab: NDArray[np.float32], k0: int, round_hu: bool = False) -> None:
        def then(kl: int, out: NDArray[np.float32]) -> None:
            add_noise(k0 + kl, out, slab[kl])  # slab[kl] is stored after this returns
            if round_hu:
                clip_round_hu(out)

        # blur along x and y slice by slice, adding the noise to each slice before it is
        # stored
        blur_inplane(slab, sig_j, sig_i, then, boost=img_boost)

    return apply


def add_metal_streaks(
    hu: NDArray[np.float32],
    affine_kji: NDArray[np.float64],
    metal_mm: NDArray[np.float64],
    amplitude_hu: float,
    rng: np.random.Generator,
) -> None:
    """In place: streaks through metal, per axial slice.

    Args:
        hu: ``(nk, nj, ni)`` float32 image, axial slices along axis 0.
        affine_kji: 4x4 affine of ``hu`` for index order ``(i, j, k)`` (x, y, z spacing diagonal).
        metal_mm: ``(M, 3)`` LPS mm points on the metal.
        amplitude_hu: Streak amplitude near the metal.
        rng: Random generator.
    """
    streaks = metal_streaks(hu.shape, affine_kji, metal_mm, amplitude_hu, rng)
    if streaks is not None:
        streaks(hu, 0)


#: Metal streaks per axial slice. The metal within 3 mm of a slice is taken as one object,
#: or as two when it spreads over more than METAL_SPLIT_MM along its main direction
#: (bilateral pedicle screws, fillings on both sides of the jaw): split at its centre. Each
#: object sends out alternating bright and dark lines (six, at the case's angles) fading with
#: distance; between two objects the rays through both are starved: a dark band along the
#: line joining them, METAL_BAND[0] of the streak amplitude deep and METAL_BAND[1] mm wide
#: (Gaussian SD), fading over METAL_BAND[2] mm beyond the objects. The metal used to be
#: averaged into one centre per slice: the lines of two fillings on either side of the jaw
#: ran through the midline between them, none through the teeth.
METAL_SPLIT_MM = 30.0
METAL_BAND = (0.6, 3.0, 6.0)


def _metal_objects(pts: NDArray[np.float64], sp: float) -> list[NDArray[np.float64]]:
    """One or two centres (index units, ``(2,)`` each) for the metal points ``pts``
    (``(M, 2)`` in-plane index coordinates, isotropic pixel ``sp`` mm)."""
    c = pts.mean(axis=0)
    if len(pts) < 2:
        return [c]
    d = pts - c
    w, v = np.linalg.eigh(d.T @ d)
    axis = v[:, int(np.argmax(w))]
    t = d @ axis
    if float(t.max() - t.min()) * sp <= METAL_SPLIT_MM:
        return [c]
    return [pts[t < 0].mean(axis=0), pts[t >= 0].mean(axis=0)]


def metal_streaks(
    shape: tuple[int, int, int],
    affine_kji: NDArray[np.float64],
    metal_mm: NDArray[np.float64],
    amplitude_hu: float,
    rng: np.random.Generator,
) -> Callable[[NDArray[np.float32], int], None] | None:
    """Draw the metal streaks of :func:`add_metal_streaks` for an image of ``shape``
    (:data:`METAL_SPLIT_MM`, :data:`METAL_BAND`).

    Returns:
        None without metal, else ``apply(slab, k0)``: adds the streaks in place to the
        ``(n, nj, ni)`` slices ``k0 .. k0 + n - 1``.
    """
    if len(metal_mm) == 0 or amplitude_hu <= 0:
        return None
    inv = np.linalg.inv(affine_kji)
    ijk = metal_mm @ inv[:3, :3].T + inv[:3, 3]
    _, nj, ni = shape
    sp = np.linalg.norm(affine_kji[:3, :3], axis=0)
    jj, ii = np.mgrid[0:nj, 0:ni].astype(np.float32)
    angles = rng.uniform(0, math.pi, 6)
    signs = (1.0, -1.0, 1.0, -1.0, 0.6, -0.6)
    depth, width, fade = METAL_BAND

    # each line's distance is its direction's projection less the object's: the projections
    # once per case (float32 throughout: a NumPy float64 scalar would promote every array)
    spx = float(sp[0])
    dirs = [(-math.sin(float(a)), math.cos(float(a))) for a in angles]
    proj = [(u * ii + v * jj).astype(np.float32) for u, v in dirs]
    line_k = spx / 1.5  # pixels -> line SDs
    # the slices' patterns by their objects' centres rounded to whole pixels: neighbouring
    # slices cut the same metal (a screw lies within 3 mm of a dozen 0.5 mm slices)
    cache: dict[tuple[int, ...], NDArray[np.float32]] = {}

    def pattern(objects: list[tuple[int, int]]) -> NDArray[np.float32]:
        key = tuple(v for o in objects for v in o)
        hit = cache.get(key)
        if hit is not None:
            return hit
        out = np.zeros((nj, ni), dtype=np.float32)
        tmp = np.empty((nj, ni), dtype=np.float32)
        for ci, cj in objects:
            di, dj = ii - np.float32(ci), jj - np.float32(cj)
            fall = np.sqrt(di * di + dj * dj)
            fall *= np.float32(spx / 40.0)
            fall += np.float32(1.0)
            np.divide(np.float32(amplitude_hu), fall, out=fall)
            pat = np.zeros((nj, ni), dtype=np.float32)
            for (u, v), pr, sgn in zip(dirs, proj, signs, strict=True):
                np.subtract(pr, np.float32(u * ci + v * cj), out=tmp)
                tmp *= np.float32(line_k)
                np.square(tmp, out=tmp)
                tmp *= np.float32(-0.5)
                np.exp(tmp, out=tmp)
                tmp *= np.float32(sgn)
                pat += tmp
            pat *= fall
            out += pat
        if len(objects) == 2:
            (ai, aj), (bi, bj) = objects
            length = max(math.hypot(bi - ai, bj - aj), 1e-6)
            ui, uj = (bi - ai) / length, (bj - aj) / length
            di, dj = ii - np.float32(ai), jj - np.float32(aj)
            along = (di * np.float32(ui) + dj * np.float32(uj)) * np.float32(spx)
            across = (dj * np.float32(ui) - di * np.float32(uj)) * np.float32(spx / width)
            beyond = np.maximum(np.maximum(-along, along - np.float32(length * spx)), 0.0)
            beyond *= np.float32(1.0 / fade)
            band = np.exp(np.float32(-0.5) * (across * across + beyond * beyond))
            out -= np.float32(depth * amplitude_hu) * band
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        cache[key] = out
        return out

    def apply(slab: NDArray[np.float32], k0: int) -> None:
        for kl in range(slab.shape[0]):
            k = k0 + kl
            near = ijk[np.abs(ijk[:, 2] - k) * sp[2] < 3.0]
            if len(near) == 0:
                continue
            objects = [
                (round(float(ci)), round(float(cj)))
                for ci, cj in _metal_objects(near[:, :2], float(sp[0]))
            ]
            slab[kl] += pattern(objects)

    return apply


def clip_round_hu(hu: NDArray[np.float32]) -> NDArray[np.float32]:
    """In place: clip to [-1024, 3071] HU and round to whole HU; returns ``hu``."""
    np.clip(hu, HU_MIN, HU_MAX, out=hu)
    np.rint(hu, out=hu)
    return hu


def to_int16_hu(hu: NDArray[np.float32]) -> NDArray[np.int16]:
    """Clip to [-1024, 3071] HU and round to int16 (``hu`` is modified)."""
    return clip_round_hu(hu).astype(np.int16)


def vertebra_texture(
    hu: NDArray[np.float32],
    vert: NDArray[np.uint8],
    boxes: dict[int, tuple[int, int, int, int, int, int]],
    spacing_kji_mm: tuple[float, float, float],
    amplitude_hu: float,
    offsets_hu: dict[int, float],
    rng: np.random.Generator,
) -> None:
    """In place: per-vertebra density offset plus smooth trabecular texture inside each vertebra.

    Args:
        hu: ``(nk, nj, ni)`` float32 image.
        vert: ``(nk, nj, ni)`` VerSe ids on the same grid.
        boxes: ``{verse_id: (k0, k1, j0, j1, i0, i1)}`` boxes on this grid.
        spacing_kji_mm: Voxel size along the array axes (mm).
        amplitude_hu: Texture standard deviation (HU) at 1 mm^3 voxels; bigger voxels average
            more trabeculae, so the amplitude falls as ``voxel volume ** -1/4`` above 1 mm^3
            (:data:`TEXTURE_VOLUME_EXPONENT`; 0.44x at 3 mm isotropic).
        offsets_hu: ``{verse_id: HU offset}``.
        rng: Random generator.
    """
    field = texture_field(boxes, spacing_kji_mm, amplitude_hu, rng)
    if field is not None:
        apply_vertebra_texture(hu, 0, vert, boxes, field, offsets_hu)


def texture_field(
    boxes: dict[int, tuple[int, int, int, int, int, int]],
    spacing_kji_mm: tuple[float, float, float],
    amplitude_hu: float,
    rng: np.random.Generator,
) -> NDArray[np.float32] | None:
    """The smooth trabecular texture field of :func:`vertebra_texture` (None without boxes):
    as large as the largest box; each vertebra reads its own window of it."""
    if not boxes:
        return None
    voxel_mm3 = float(np.prod(spacing_kji_mm))
    amplitude_hu *= min(1.0, voxel_mm3**-TEXTURE_VOLUME_EXPONENT)
    dims = np.max([[k1 - k0, j1 - j0, i1 - i0] for k0, k1, j0, j1, i0, i1 in boxes.values()], 0)
    along, across = TRABECULAR_TEXTURE_MM
    sig = [along / spacing_kji_mm[0], across / spacing_kji_mm[1], across / spacing_kji_mm[2]]
    field = rng.standard_normal(tuple(int(x) for x in dims), dtype=np.float32)
    field = ndi.gaussian_filter(field, sig, truncate=2.5)
    field *= np.float32(amplitude_hu / (float(field.std()) or 1.0))
    return field


def apply_vertebra_texture(
    slab: NDArray[np.float32],
    k0: int,
    vert: NDArray[np.uint8],
    boxes: dict[int, tuple[int, int, int, int, int, int]],
    field: NDArray[np.float32],
    offsets_hu: dict[int, float],
) -> None:
    """In place: the offsets and texture (:func:`texture_field`) of the vertebrae in the
    ``(n, nj, ni)`` slices ``k0 .. k0 + n - 1`` of the image whose VerSe ids are ``vert``
    (the whole ``(nk, nj, ni)`` map); the same values as :func:`vertebra_texture` on the whole
    image."""
    nk = vert.shape[0]
    for vid, (b0, b1, j0, j1, i0, i1) in boxes.items():
        b1 = min(b1, nk)
        ka, kz = max(b0, k0), min(b1, k0 + slab.shape[0])
        if ka >= kz:
            continue
        m = vert[ka:kz, j0:j1, i0:i1] == vid
        if not m.any():
            continue
        fw = field[: b1 - b0, : m.shape[1], : m.shape[2]]  # the whole box's window
        if vid % 2:
            fw = fw[::-1, ::-1]
        sub = slab[ka - k0 : kz - k0, j0:j1, i0:i1]
        sub[m] += offsets_hu.get(vid, 0.0) + fw[ka - b0 : kz - b0][m]


#: Axial slices per slab of :func:`ct_image_slabs` (with 512 x 512 slices a 32 MiB float32
#: buffer; 32 int16 slices make a whole 64-byte line where a slab is written across slices).
SLAB_SLICES = 32


def lung_gradient(
    tissue_fine: NDArray[np.uint8],
    factors: tuple[int, int, int],
    lung_class: int,
    y_rows_mm: NDArray[np.float64],
    y_ref_mm: NDArray[np.float64],
    hu_per_mm: float,
) -> Callable[[NDArray[np.float32], int], None]:
    """The lungs' gravity-dependent density, as an in-place step on slabs of the image.

    Supine, the lower (posterior) lung holds more blood and less air than the upper: each
    output voxel gains ``hu_per_mm`` HU per mm that it lies behind ``y_ref_mm`` of its slice
    (less in front of it), times the share of its fine voxels that are lung.

    Args:
        tissue_fine: ``(nk*fk, nj*fj, ni*fi)`` uint8 tissue classes.
        factors: ``(fk, fj, fi)`` fine-to-output block size.
        lung_class: The lung's tissue class.
        y_rows_mm: ``(nj,)`` y (mm, LPS: + posterior) of the output rows.
        y_ref_mm: ``(nk,)`` per output slice, the height where the offset is 0.
        hu_per_mm: The gradient.

    Returns:
        ``add(out, k0)``: adds the offsets to the slab ``out`` of slices ``k0 ..``.
    """
    fk = factors[0]
    lut = np.zeros(lung_class + 1, np.float32)
    lut[lung_class] = 1.0
    rows = np.asarray(y_rows_mm, dtype=np.float32)
    ref = np.asarray(y_ref_mm, dtype=np.float32)

    def add(out: NDArray[np.float32], k0: int) -> None:
        k1 = k0 + out.shape[0]
        share = block_mean_lut(tissue_fine[k0 * fk : k1 * fk], lut, factors)
        offset = np.float32(hu_per_mm) * (rows[None, :] - ref[k0:k1, None])
        share *= offset[:, :, None]
        out += share

    return add


def ct_image_slabs(
    tissue_fine: NDArray[np.uint8],
    lut: NDArray[np.float32],
    factors: tuple[int, int, int],
    vert: NDArray[np.uint8],
    boxes: dict[int, tuple[int, int, int, int, int, int]],
    spacing_kji_mm: tuple[float, float, float],
    texture_hu: float,
    offsets_hu: dict[int, float],
    affine_kji: NDArray[np.float64],
    metal_mm: NDArray[np.float64],
    physics: Physics,
    rng: np.random.Generator,
    blend: EdgeBlend | None = None,
    workers: int = 1,
    lung: Callable[[NDArray[np.float32], int], None] | None = None,
) -> Callable[[NDArray[Any]], None]:
    """The CT image of a fine tissue map, made slab by slab straight into its output array.

    Same values as the whole-volume steps :func:`block_mean_lut`, :func:`vertebra_texture`,
    :func:`add_metal_streaks`, :func:`add_noise_and_blur` and :func:`clip_round_hu` in turn
    (and the same draws from ``rng``), without a whole float32 volume: each slab of
    :data:`SLAB_SLICES` slices is looked up, textured, streaked, blurred, made noisy, rounded
    and written in one go into a reused buffer (a fresh 300 MiB float32 volume cost 0.3-0.6 s
    of page faults per 512x512x300 case on the 2-core VM). :func:`scanner_maps` needs two
    slices per chunk of the unblurred image first; those are made on their own beforehand.

    All draws happen here, so the caller may draw more (e.g. the orientation, which decides
    the output's memory order) before calling the returned function.

    Args:
        tissue_fine: ``(nk*fk, nj*fj, ni*fi)`` uint8 tissue classes.
        lut: HU per tissue class.
        factors: ``(fk, fj, fi)`` fine-to-output block size.
        vert: ``(nk, nj, ni)`` VerSe ids on the output grid.
        boxes: ``{verse_id: (k0, k1, j0, j1, i0, i1)}`` vertebra boxes on the output grid.
        spacing_kji_mm: Output voxel size along the array axes (mm).
        texture_hu: Trabecular texture SD at 1 mm^3 (:func:`vertebra_texture`).
        offsets_hu: ``{verse_id: HU offset}`` per vertebra.
        affine_kji: 4x4 affine for index order ``(i, j, k)`` (:func:`add_metal_streaks`).
        metal_mm: ``(M, 3)`` LPS mm points on metal.
        physics: Scanner parameters.
        rng: Random generator.
        blend: Sub-voxel make-up of ``tissue_fine``'s boundary voxels (:func:`block_mean_lut`).
        workers: Processes that write the slabs (:func:`spinelab.synth.parallel.for_each`;
            ``out`` must then be in shared memory, :func:`spinelab.synth.parallel.shared_zeros`).
            The values are the same for any number.
        lung: The lungs' density gradient (:func:`lung_gradient`), added after the look-up.

    Returns:
        ``write(out)``: fills ``out``, any ``(nk, nj, ni)`` array or view (e.g. int16 in
        another axis order), with the clipped and rounded HU.
    """
    fk = factors[0]
    nk = tissue_fine.shape[0] // fk
    shape = (nk, tissue_fine.shape[1] // factors[1], tissue_fine.shape[2] // factors[2])
    field = texture_field(boxes, spacing_kji_mm, texture_hu, rng)
    streaks = metal_streaks(shape, affine_kji, metal_mm, physics.streak_hu, rng)
    # rows contiguous (a padded chunk of rows costs the look-up's take a copy in and out); the
    # reordering copy reads the cast buffer of write(), whose slices are padded instead
    slab = np.empty((min(nk, SLAB_SLICES), shape[1], shape[2]), np.float32)

    def unblurred(k0: int, k1: int) -> NDArray[np.float32]:
        """Slices ``k0 .. k1 - 1`` before the blur, in the slab buffer."""
        out = slab[: k1 - k0]
        part = None if blend is None else blend.slices(k0 * fk, k1 * fk)
        block_mean_lut(tissue_fine[k0 * fk : k1 * fk], lut, factors, out=out, blend=part)
        if lung is not None:
            lung(out, k0)
        if field is not None:
            apply_vertebra_texture(out, k0, vert, boxes, field, offsets_hu)
        if streaks is not None:
            streaks(out, k0)
        return out

    def get(ks: list[int]) -> NDArray[np.float32]:
        # one slice at a time in the slab buffer: each copied out before the next
        return np.stack([unblurred(k, k + 1)[0].copy() for k in ks])

    noise = prepare_noise_and_blur(SliceSource(shape, get), spacing_kji_mm, physics, rng)

    def write(out: NDArray[Any]) -> None:
        if out.shape != shape:
            raise ValueError(f"output of shape {out.shape}, expected {shape}")
        # each slab cast to the output's type in order first (cheap), then reordered from a
        # buffer whose slices fall on different cache sets (empty_padded's pad_slices)
        cast = None if out.dtype == slab.dtype else empty_padded(slab.shape, out.dtype, True)

        def write_slab(n: int) -> None:
            k0 = n * SLAB_SLICES
            k1 = min(nk, k0 + SLAB_SLICES)
            part = unblurred(k0, k1)
            noise(part, k0, round_hu=True)
            if cast is not None:
                np.copyto(cast[: k1 - k0], part, casting="unsafe")
                copy_tiled(out[k0:k1], cast[: k1 - k0])
            else:
                copy_tiled(out[k0:k1], part)

        parallel.for_each(-(-nk // SLAB_SLICES), write_slab, workers, into=(out,))

    return write
