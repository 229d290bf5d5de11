r"""The noise level of an image, read from the data alone: its variance as a function of
the intensity (Gaussian or Poisson-like), robust to edges, texture and clipping.

Method
------
**Noise level** (:func:`estimate_noise_model`): a high-pass that cancels smooth content,
Immerkær's (1996) second-difference mask made separable for N-D,
:math:`r = \prod_i \delta^2_i I / \sqrt{6^d}` (``[1, -2, 1]`` along every spatial axis),
read robustly (1.4826·median absolute deviation, Donoho & Johnstone 1994) in small
blocks of one channel each (channels differ in intensity, so in Poisson variance); the
low quantile of the blocks in each intensity bin (edges and texture read
high) gives a variance curve :math:`v(m) = a\,m + b`, so Poisson-like noise, whose
variance grows with the intensity :math:`m`, is measured as well as Gaussian noise (a
slope within two standard errors of 0 is read as Gaussian noise; a bright feature in a dark
block, whose robust level reads the dark ground, is read again with each sample standardised
by the line, :func:`standardised_reread`).  Noise clipped to the
picture's range (ties at its extreme value) keeps only its part inside the range; the
blocks at the clip value are read as censored Gaussian samples instead (Tobin 1958;
:func:`censored_sigmas`).
Texture that is white at the pixel scale reads as noise there; the same fit one octave
down (after 2× averaging), where white noise reads the same and texture higher, takes
part of it back out (:func:`estimate_noise_model`), unless edges cross most blocks
(:func:`outlier_share`), which read higher one octave down too; and no more of it than
the finest scale's tails allow (:func:`tail_excess`: texture is heavier-tailed than
noise, content smooth at the pixel scale, like blurred spots, leaves them Gaussian).
With several channels
(colour), noise independent between them is all in their differences
(:func:`channel_contrasts`), texture mostly not: where what the channels read beyond
their differences is texture (higher one octave down) and not most of the reading,
the differences' fit is the noise.

Modules: :mod:`~peronamalik.core.noise_level.blocks` (the high-pass, its blocks and their
calibration on pure noise), :mod:`~peronamalik.core.noise_level.line` (:class:`NoiseModel`
and its fit), :mod:`~peronamalik.core.noise_level.finest` (the finest scale's reading),
:mod:`~peronamalik.core.noise_level.censored` (clipping),
:mod:`~peronamalik.core.noise_level.texture` (one octave down, and the tails) and
:mod:`~peronamalik.core.noise_level.estimate` (the whole reading, colour included).
"""

from peronamalik.core.noise_level.estimate import estimate_noise, estimate_noise_model
from peronamalik.core.noise_level.line import NoiseModel

__all__ = ["NoiseModel", "estimate_noise", "estimate_noise_model"]
