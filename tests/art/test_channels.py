"""``channels="luminance"``: the luminance diffuses, the frames keep the photo's chroma."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peronamalik.art import ArtConfig, animate
from peronamalik.art.engine import REC709, luminance
from peronamalik.art.source import load_source, sample_array

PHOTO = sample_array()[::6, ::6]


def chroma(rgb: np.ndarray) -> np.ndarray:
    """RGB minus its Rec. 709 luminance (what a YUV encoding keeps besides Y)."""
    return rgb - rgb @ np.array(REC709, dtype=rgb.dtype)[:, None]


def test_channels_is_checked():
    assert ArtConfig().channels == "rgb"
    with pytest.raises(ValueError, match=r"channels must be one of \['rgb', 'luminance'\], got 'hsv'"):
        ArtConfig(channels="hsv")


def test_luminance_weights_sum_to_one():
    grey = torch.rand(1, 1, 5, 6, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(luminance(grey.expand(1, 3, 5, 6)), grey, atol=1e-6)
    assert luminance(torch.eye(3).view(1, 3, 3, 1)).flatten().tolist() == pytest.approx(REC709)


def test_frames_keep_the_chroma_and_show_the_diffused_luminance():
    """Where no channel clips, frame - Y(frame) is the source's chroma (to uint8 rounding),
    and Y(frame) is the engine's diffused image; the luminance does change."""
    source = load_source(PHOTO, size=None, device=torch.device("cpu")).tensor
    states = {}

    def keep(iteration, engine, refreshed):
        if iteration % 50 == 0:
            states[iteration] = engine.image[0, 0].numpy().copy()
            assert engine.image.shape[1] == 1 and engine.colour is not None

    frames = list(animate(PHOTO, preset="ink", iterations=200, every=50, seed=0, device="cpu", size=None, callback=keep))
    expected = chroma(source[0].permute(1, 2, 0).numpy())
    for frame, state in zip(frames, states.values()):
        rgb = frame.astype(np.float32) / 255
        inside = ((frame > 0) & (frame < 255)).all(axis=-1)
        assert inside.mean() > 0.5
        assert np.abs(chroma(rgb) - expected)[inside].max() <= 1.01 / 255
        y = rgb @ np.array(REC709, dtype=np.float32)
        assert np.abs(y - state)[inside].max() <= 1.01 / 255
    y0 = luminance(source)[0, 0].numpy()
    assert np.abs(states[150] - y0).mean() > 0.05


def test_a_grey_photo_is_unaffected():
    grey = PHOTO[..., 1]
    runs = [
        list(animate(grey, preset="ink", channels=channels, iterations=60, every=30, seed=0, device="cpu", size=None))
        for channels in ("rgb", "luminance")
    ]
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
