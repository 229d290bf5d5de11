"""
Stylising a video
=================

:func:`peronamalik.stylize_frames` applies the seed's live-video preset to a stream of frames,
one output frame per input frame, pulling them lazily (a file, a webcam or any generator).
Here the clip is synthetic: a bright disc crossing a gradient, 24 frames of 64×64.
:func:`peronamalik.render_video` does the same from one video file to another, keeping its
frame rate and audio.
"""

import matplotlib.pyplot as plt
import numpy as np

from peronamalik import stylize_frames


def clip(count: int = 24, size: int = 64):
    """A disc moving left to right over a diagonal gradient, as uint8 RGB frames."""
    y, x = np.mgrid[:size, :size] / size
    for index in range(count):
        centre = 0.2 + 0.6 * index / (count - 1)
        disc = (x - centre) ** 2 + (y - 0.5) ** 2 < 0.04
        frame = np.stack([0.3 + 0.4 * x, 0.2 + 0.5 * y, 0.6 * disc + 0.2], axis=-1)
        yield (np.clip(frame, 0, 1) * 255).astype(np.uint8)


source = list(clip())
styled = list(stylize_frames(iter(source), seed=0, device="cpu"))

fig, axes = plt.subplots(2, 4, figsize=(8, 4.2))
for column, index in enumerate([0, 8, 16, 23]):
    axes[0, column].imshow(source[index])
    axes[0, column].set_title(f"frame {index}")
    axes[1, column].imshow(styled[index])
for ax in axes.ravel():
    ax.axis("off")
axes[0, 0].text(-8, 32, "input", rotation=90, va="center", ha="right")
axes[1, 0].text(-8, 32, "stylised", rotation=90, va="center", ha="right")
fig.tight_layout()
plt.show()
