"""File input and output: still images and volumes, animations and videos, atomic writes."""

from peronamalik.io.animation import (
    FrameWriter,
    VideoInfo,
    check_output,
    check_output_kind,
    open_frame_writer,
    probe,
    read_frames,
)
from peronamalik.io.atomic import AtomicTarget, atomic_output, check_target
from peronamalik.io.images import (
    LoadedImage,
    check_image_output,
    read_image,
    side_by_side,
    write_image,
)

__all__ = [
    "AtomicTarget",
    "FrameWriter",
    "LoadedImage",
    "VideoInfo",
    "atomic_output",
    "check_image_output",
    "check_output",
    "check_output_kind",
    "check_target",
    "open_frame_writer",
    "probe",
    "read_frames",
    "read_image",
    "side_by_side",
    "write_image",
]
