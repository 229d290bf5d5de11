"""The source a run starts from: a grey picture's warm cast (``ArtConfig.grey_tint``)."""

from __future__ import annotations

import torch

from peronamalik.art.source import GREY_SPREAD, tinted_if_grey


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
