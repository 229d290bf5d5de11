"""File input and output: still images and volumes, animations and videos, atomic writes.

Images need the ``[io]`` extra (Pillow, tifffile), animations and videos ``[video]``
(PyAV); the names below load their submodule on first use, so ``import peronamalik.io``
needs neither.
"""

from peronamalik._extras import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "animation": ("FrameWriter", "check_output", "check_output_kind", "open_frame_writer"),
        "atomic": ("AtomicTarget", "atomic_output", "check_target"),
        "images": ("LoadedImage", "check_image_output", "read_image", "side_by_side", "write_image"),
        "metadata": ("PixelMetadata",),
        "video": ("VideoInfo", "probe", "read_frames"),
    },
)
