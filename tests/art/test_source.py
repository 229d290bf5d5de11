"""The source a run starts from: its size, and a grey picture's warm cast (``ArtConfig.grey_tint``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from peronamalik.art import render
from peronamalik.art.source import GREY_SPREAD, resize_longer, tinted_if_grey
from peronamalik.io.video import read_frames


def test_a_grey_source_gets_the_cast_in_three_channels():
    level = torch.rand(1, 1, 8, 9, generator=torch.Generator().manual_seed(0))
    for grey in (level, level.expand(1, 3, 8, 9)):
        cast = tinted_if_grey(grey, 0.05)
        assert cast.shape == (1, 3, 8, 9)
        for channel, factor in enumerate((1.0, 0.95, 0.9)):
            assert torch.allclose(cast[:, channel], level[:, 0] * factor)


def test_a_colour_source_and_a_zero_tint_are_left_alone():
    generator = torch.Generator().manual_seed(1)
    colour = torch.rand(1, 3, 8, 9, generator=generator)
    assert tinted_if_grey(colour, 0.05) is colour
    grey = torch.rand(1, 1, 8, 9, generator=generator).expand(1, 3, 8, 9)
    assert tinted_if_grey(grey, 0.0) is grey


def test_rounding_between_the_channels_still_reads_as_grey():
    """A grey picture stored as RGB may differ by a level between channels; a cast whose
    spread passes GREY_SPREAD of the mean is colour of the picture's own."""
    level = 0.2 + 0.6 * torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    rounded = level.expand(1, 3, 16, 16).clone()
    rounded[:, 1] += 1.0 / 255
    assert not torch.equal(tinted_if_grey(rounded, 0.05), rounded)
    cast = level * torch.tensor([1.0, 1.0, 1.0 - 1.5 * GREY_SPREAD]).view(1, 3, 1, 1)
    assert tinted_if_grey(cast, 0.05) is cast


def test_even_sizes_round_each_side_to_the_nearest_even_number():
    photo = torch.rand(1, 3, 300, 451, generator=torch.Generator().manual_seed(3))
    assert resize_longer(photo, 320).shape[-2:] == (213, 320)  # 212.86
    assert resize_longer(photo, 320, even=True).shape[-2:] == (212, 320)
    assert resize_longer(photo, None, even=True).shape[-2:] == (300, 452)
    assert resize_longer(photo, None) is photo


def test_an_mp4_of_the_sample_is_resized_to_even_sides_not_padded(tmp_path: Path):
    """H.264 in yuv420p stores only even sizes: the bundled sample at 320 px (213 rows) was
    padded with a copy of its last row, so every frame sat up to a pixel off the photo
    resized to the video's size (kitty's structure read 0.47 from the .mp4, 0.50 from the GIF)."""
    run = dict(preset="ember", iterations=2, every=1, seed=0, device="cpu")
    video = list(read_frames(render(None, tmp_path / "a.mp4", **run)))
    gif = list(read_frames(render(None, tmp_path / "a.gif", **run)))
    assert video[0].shape == (212, 320, 3) and gif[0].shape == (213, 320, 3)
    assert not np.array_equal(video[0][-1], video[0][-2])
