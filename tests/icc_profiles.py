"""ICC profiles for the tests, built byte by byte (ICC.1:2001-04, version 2.1): Pillow's
ImageCms can create only sRGB, Lab and XYZ profiles, and no RGB profile file ships here.

:func:`rgb_profile` writes a matrix/TRC display profile (what cameras and phones embed):
a description, the D50 white point, the three colorants and one gamma curve per channel.
littleCMS reads it like any other (the tests convert through it)."""

from __future__ import annotations

import struct

#: Display P3's colorants adapted to D50, as Apple's "Display P3" profile stores them.
DISPLAY_P3 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + struct.pack(">II", 0, 0) + b"\0\0\0" + b"\0" * 67


def _gamma(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def rgb_profile(name: str = "Display P3 (test)", colorants=DISPLAY_P3, gamma: float = 2.2) -> bytes:
    """An RGB display profile with these D50 ``colorants`` (red, green, blue XYZ) and ``gamma``."""
    tags = [(b"desc", _description(name)), (b"wtpt", _xyz(D50)), (b"cprt", b"text\0\0\0\0no copyright\0")]
    tags += [(signature, _xyz(colorant)) for signature, colorant in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)]
    tags += [(signature, _gamma(gamma)) for signature in (b"rTRC", b"gTRC", b"bTRC")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = [], b""
    for signature, body in tags:
        table.append(signature + struct.pack(">II", offset + len(data), len(body)))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in D50) + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data
