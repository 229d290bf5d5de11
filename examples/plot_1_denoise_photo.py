"""
Denoising a photo
=================

The classic Perona-Malik filter on a noisy grey photo: a fixed ``kappa``, then the
parameters chosen from the data (``kappa="auto"``, ``iterations="auto"``); then, where the
picture's grain reads as noise, the noise given (``noise=``) as read where it is smooth.
"""

import matplotlib.pyplot as plt
import numpy as np

from peronamalik import diffuse, estimate_parameters
from peronamalik.art.source import sample_array

photo = sample_array()[::2, ::2].mean(axis=-1) / 255  # the bundled sample, grey, 150×226
rng = np.random.default_rng(0)
noisy = np.clip(photo + rng.normal(0, 0.08, photo.shape), 0, 1).astype(np.float32)

fixed = diffuse(noisy, iterations=20, kappa=0.1)
chosen = estimate_parameters(noisy)  # what kappa="auto", iterations="auto" choose
print(chosen)
auto = diffuse(noisy, **chosen.as_options())


def psnr(image: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((image - photo) ** 2)))


fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, image, title in zip(axes, [noisy, fixed, auto], ["noisy", "kappa 0.1, 20 iterations", "auto"]):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{title}\n{psnr(image):.1f} dB")
    ax.axis("off")
fig.tight_layout()
plt.show()

# %%
# Grain that reads as noise: give the noise read where the picture is smooth
# --------------------------------------------------------------------------
# Film grain as strong as the noise (camera's corner under noise of 0.02) reads as noise
# too: auto smooths the grain away and ends below the noisy input.  The noise is the same
# all over the picture, so read it where the picture is smooth (the sky) and give that
# line (``noise_line``: the variance ``a·m + b``) for the grainy part.

from skimage import data  # noqa: E402

camera = data.camera() / 255
noisy_camera = camera + np.random.default_rng(1).normal(0, 0.02, camera.shape)
sky = estimate_parameters(noisy_camera[20:148, 300:428])
clean, corner = camera[320:448, 320:448], noisy_camera[320:448, 320:448]
read_here, sky_noise = estimate_parameters(corner), estimate_parameters(corner, noise=sky.noise_line)
print("read on the corner:", read_here.describe())
print("the sky's line:    ", sky_noise.describe())
read, given = diffuse(corner, **read_here.as_options()), diffuse(corner, **sky_noise.as_options())


def psnr_of(image: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((image - clean) ** 2)))


fig, axes = plt.subplots(1, 4, figsize=(12, 3.8))
pictures = [clean, corner, read, given]
titles = ["clean (grain)", "noisy", "auto, noise read here", "auto, the sky's noise"]
for ax, image, title in zip(axes, pictures, titles):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title if image is clean else f"{title}\n{psnr_of(image):.1f} dB")
    ax.axis("off")
fig.tight_layout()
plt.show()
