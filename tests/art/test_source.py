"""The source a run starts from: its size, and a grey picture's warm cast (``ArtConfig.grey_tint``)."""

from __future__ import annotations

import io
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


def test_a_linear_profile_named_srgb_is_converted(tmp_path: Path):
    """Whether a profile is sRGB was read from its name: "Linear sRGB" (sRGB's primaries,
    gamma 1) was left as it was, 73 levels off (QA)."""
    from PIL import Image

    from peronamalik.art.source import load_source
    from tests.icc_profiles import rgb_profile

    srgb_primaries = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))
    photo = np.random.default_rng(1).integers(30, 220, (16, 16, 3), dtype=np.uint8)
    for name in ("Linear sRGB", "Linear Rec709"):
        Image.fromarray(photo).save(tmp_path / f"{name}.png", icc_profile=rgb_profile(name, srgb_primaries, gamma=1.0))
    named, other = (load_source(tmp_path / f"{name}.png", size=None, device="cpu").tensor for name in ("Linear sRGB", "Linear Rec709"))
    torch.testing.assert_close(named, other)
    plain = torch.from_numpy(photo).permute(2, 0, 1).float()[None] / 255
    assert float((named - plain).mean()) > 0.05  # linear values shown brighter in sRGB (both min-max normalised)


def test_a_display_p3_photo_is_shown_in_srgb(tmp_path: Path):
    """GIF and MP4 carry no colour profile and are shown as sRGB: a Display P3 photo's values
    shown as they are look washed out.  The source is the photo converted by littleCMS to
    sRGB (more saturated values), from a file and from a PIL image alike; an sRGB-tagged or
    untagged photo is left as it is."""
    from PIL import Image, ImageCms

    from peronamalik.art.source import load_source
    from tests.icc_profiles import rgb_profile

    p3 = rgb_profile()
    photo = np.random.default_rng(0).integers(30, 220, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "p3.png", icc_profile=p3)
    Image.fromarray(photo).save(tmp_path / "srgb.png", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    with Image.open(tmp_path / "p3.png") as opened:
        converted = ImageCms.profileToProfile(opened, ImageCms.ImageCmsProfile(io.BytesIO(p3)), ImageCms.createProfile("sRGB"))
        from_pil = load_source(opened, size=None, device="cpu").tensor
    Image.fromarray(np.asarray(converted)).save(tmp_path / "converted.png")

    def source(name: str) -> torch.Tensor:
        return load_source(tmp_path / name, size=None, device="cpu").tensor

    torch.testing.assert_close(source("p3.png"), source("converted.png"))
    torch.testing.assert_close(from_pil, source("converted.png"))
    assert not torch.equal(source("p3.png"), source("srgb.png"))
    Image.fromarray(photo).save(tmp_path / "plain.png")
    torch.testing.assert_close(source("srgb.png"), source("plain.png"))


def test_an_unreadable_colour_profile_is_warned_about_and_ignored(tmp_path: Path):
    import warnings

    from PIL import Image

    from peronamalik.art.source import load_source

    from tests.icc_profiles import rgb_profile

    photo = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    truncated = rgb_profile()[:140]  # an RGB profile's header, its tags cut off
    Image.fromarray(photo).save(tmp_path / "odd.png", icc_profile=truncated)
    Image.fromarray(photo).save(tmp_path / "plain.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        odd = load_source(tmp_path / "odd.png", size=None, device="cpu").tensor
    assert [str(w.message) for w in caught if "colour profile cannot be read" in str(w.message) and "odd.png" in str(w.message)]
    torch.testing.assert_close(odd, load_source(tmp_path / "plain.png", size=None, device="cpu").tensor)
