"""
On drugs: the art presets
=========================

:func:`peronamalik.animate` yields the frames of a "Perona-Malik on drugs" animation as they
are made: the image diffuses with a convolution ``K`` that learns by gradient descent while it
runs. Each preset is a set of :class:`~peronamalik.ArtConfig` fields; here each photo preset
runs its own animation (its iterations, a frame every ``every`` of them) on a 64-pixel copy of
the bundled sample, and four frames spread over the run are shown. ``peronamalik.render`` (or ``peronamalik art``) writes the same frames to a GIF, WebP
or video.
"""

import matplotlib.pyplot as plt

from peronamalik import animate
from peronamalik.art import PHOTO_PRESETS

SHOWN = 4
fig, axes = plt.subplots(len(PHOTO_PRESETS), SHOWN, figsize=(8, 1.5 * len(PHOTO_PRESETS)), squeeze=False)
for row, preset in zip(axes, PHOTO_PRESETS):
    frames = list(animate(None, preset=preset, size=64, seed=0, device="cpu"))
    for ax, index in zip(row, [round(i * (len(frames) - 1) / (SHOWN - 1)) for i in range(SHOWN)]):
        ax.imshow(frames[index])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {index}", fontsize=8)
    row[0].set_ylabel(preset)
fig.tight_layout()
plt.show()
