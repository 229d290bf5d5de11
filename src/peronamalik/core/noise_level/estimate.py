"""The noise of an image read from the data alone (:func:`estimate_noise_model`): the finest
fit, corrected for texture, and for colour read in the channels' differences too."""

from __future__ import annotations

import math

import torch

from peronamalik.core.noise_level.blocks import block_side
from peronamalik.core.noise_level.line import NoiseModel
from peronamalik.core.noise_level.texture import TEXTURE_FLOOR, TEXTURE_GATE, corrected_for_texture, octave_fits

#: Colour: the largest share of the channels' finest reading that their differences may lack
#: for those to be read as the noise (see estimate_noise_model): texture took at most 0.41 of
#: it (coffee's cloth under noise of 0.02), noise half shared by the channels 0.48-0.67.
SHARED_GATE = 0.45


def estimate_noise_model(u: torch.Tensor, spatial_ndim: int) -> NoiseModel:
    r"""Fit :class:`NoiseModel` to a ``(B, C, *spatial)`` tensor (see the module notes).

    The fit of :func:`noise_model_at_finest_scale` reads the noise variance plus the energy
    :math:`T` of any texture that is white at the pixel scale (grass, coins, star fields).
    It is checked one octave down: on ``u`` averaged over :math:`2^d` blocks (white noise's
    variance divided by :math:`2^d`, so that fit times :math:`2^d` reads the same
    :math:`v_1` on pure noise) the same fit reads :math:`v_2 = \sigma^2 + \rho T`, where
    texture has :math:`\rho > 1` (natural images have power spectra near :math:`1/f^2`,
    Field 1987, which gives :math:`\rho = 2^d`).  Assuming :math:`\rho = \beta =`
    :data:`TEXTURE_RATIO` :math:`\cdot 2^{d-2}` (1.5 times the :math:`1/f^2` value in every
    dimension) the noise variance is
    :math:`(\beta v_1 - v_2) / (\beta - 1)`, kept between :data:`TEXTURE_FLOOR` ·
    :math:`v_1` and :math:`v_1` at the mean intensity (edges and smooth structure have
    :math:`\rho \gg \beta` and would drive it to 0).  It is applied only where
    :func:`octave_ratio` exceeds :data:`TEXTURE_GATE` and :func:`outlier_share` is at most
    :data:`EDGE_GATE`: texture covers the picture and is dense within a block, edges are
    sparse lines (in busy binary pictures they cross most blocks, and the octave ratio
    reads them), and SURE's choice on nearly flat images is sensitive to a noise level read
    a few % low.  The coarse scale is read only when every spatial axis holds
    :data:`COARSE_BLOCKS` blocks of it.  What the correction takes out as texture must show
    in the finest scale's tails: it keeps at least :math:`1 - (x + m) / c` of :math:`v_1`,
    with :math:`x` the tail's excess over pure noise's (:func:`tail_excess`), :math:`m =`
    :data:`TAIL_MARGIN` and :math:`c =` :data:`TAIL_PER_SHARE`.  Content smooth at the pixel
    scale and sharp one octave down (dense blurred spots, star fields) otherwise read as
    texture: the noise of fluorescence-like spots read 0.52-0.82x, of star.jpg's centre
    0.65x; now 0.83-1.00x and 0.91-0.95x (benchmarks/auto_quality.py --set spots).

    With ``C >= 2`` channels, noise independent between them reads the same in their
    differences (:func:`channel_contrasts`), while texture and edges, shared by the channels,
    mostly cancel there.  The excess :math:`e_1` of the channels' finest fit over the
    differences' (both at the mean intensity) is texture or noise that the channels share;
    read one octave down (:math:`e_2`, times :math:`2^d`), shared noise is white
    (:math:`e_2 \approx e_1`) and texture is not.  Where :math:`e_2 >` :data:`TEXTURE_GATE`
    :math:`e_1` and :math:`e_1` is at most :data:`SHARED_GATE` of the channels' reading, the
    differences' model (texture-corrected the same way) replaces the assumed-ratio
    correction, kept between :data:`TEXTURE_FLOOR` and 1 times the channels' finest
    reading.  On 128² colour crops under Gaussian noise of 0.02 this reads the noise
    0.98-1.07x where the channels read 0.75-1.48x (benchmarks/auto_quality.py); a grey
    picture stored as RGB, whose differences are 0, reads as grey; noise three quarters
    shared by the channels still reads 0.80x or more (0.60x without the share's bound).
    """
    u, spatial_ndim = short_axes_as_batch(u.detach(), spatial_ndim)
    fine, coarse = octave_fits(u, u, spatial_ndim)
    model = corrected_for_texture(u, fine, coarse, spatial_ndim)
    if coarse is None or u.ndim - spatial_ndim != 2 or u.shape[1] < 2:
        return model
    contrasts, intensity = channel_contrasts(u)
    differences_fine, differences_coarse = octave_fits(contrasts, intensity, spatial_ndim)
    if differences_coarse is None:
        return model  # the channels are equal: a grey picture
    m, gain = float(u.mean()), 2.0**spatial_ndim
    excess_fine = fine.at(m) - differences_fine.at(m)
    excess_coarse = gain * (coarse.at(m) - differences_coarse.at(m))
    if excess_fine <= 0 or excess_fine > SHARED_GATE * fine.at(m) or excess_coarse <= TEXTURE_GATE * excess_fine:
        return model  # what only the channels read is white, or too much of it: shared noise
    differences = corrected_for_texture(contrasts, differences_fine, differences_coarse, spatial_ndim, m, intensity)
    share = differences.at(m) / fine.at(m)
    if share >= 1:
        return model
    if share <= TEXTURE_FLOOR:
        return fine.scaled(TEXTURE_FLOOR)
    return differences


def estimate_noise(u: torch.Tensor, spatial_ndim: int) -> float:
    """Root-mean-square noise level of a ``(B, C, *spatial)`` tensor under
    :func:`estimate_noise_model`."""
    model = estimate_noise_model(u, spatial_ndim)
    return math.sqrt(float(model.variance(u.detach()).mean()))


def short_axes_as_batch(u: torch.Tensor, spatial_ndim: int) -> tuple[torch.Tensor, int]:
    """``(u, spatial_ndim)`` with every spatial axis too short to hold one block of the
    high-pass (fewer than :func:`block_side` + 2 samples; the shortest first) folded into the
    batch axis: the noise is then read in the images across it (a stack of 3 slices as 3
    images, whose second difference along z kept one sample and read no noise at all).  At
    least one spatial axis stays."""
    while spatial_ndim > 1:
        lead = u.ndim - spatial_ndim
        shortest = min(range(lead, u.ndim), key=lambda dim: u.shape[dim])
        if u.shape[shortest] >= block_side(spatial_ndim) + 2:
            break
        u, spatial_ndim = u.movedim(shortest, 0).flatten(0, 1), spatial_ndim - 1
    return u, spatial_ndim


def channel_contrasts(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(contrasts, intensity)`` of a ``(B, C, *spatial)`` tensor with ``C >= 2`` channels:
    its projections :math:`w_k^\top u` on the Helmert basis of the channel differences
    (:math:`w_k = (1, \dots, 1, -k, 0, \dots, 0) / \sqrt{k(k + 1)}`, ``k = 1 .. C-1``:
    orthonormal and orthogonal to the channels' mean), and :math:`(w_k \odot w_k)^\top u`.

    Noise independent between channels, of variance :math:`v_c = a\,m_c + b` in channel
    :math:`c`, gives contrast :math:`k` the variance :math:`\sum_c w_{kc}^2 v_c = a\,(w_k
    \odot w_k)^\top m + b` (the weights' squares sum to 1): the same noise model, read at that
    intensity.  Texture and edges are mostly shared by the colour channels and cancel there:
    on 128² crops of colour photos under Gaussian noise of 0.02 the contrasts read the noise
    0.98-1.07x, the channels themselves 0.75-1.48x (coffee's crop three quarters in, whose
    clean channels read 0.61 of the noise level, the contrasts 0.20).
    """
    channels = u.shape[1]
    weights = torch.zeros(channels - 1, channels, dtype=u.dtype, device=u.device)
    for k in range(1, channels):
        weights[k - 1, :k] = 1.0
        weights[k - 1, k] = -float(k)
        weights[k - 1] /= math.sqrt(k * (k + 1))
    project = lambda w: torch.einsum("kc,bc...->bk...", w, u)  # noqa: E731
    return project(weights), project(weights.square())
