"""``peronamalik smooth INPUT -o OUTPUT``: classic Perona-Malik diffusion of an image or volume."""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from peronamalik._validate import InputError
from peronamalik.cli.app import DEVICE_HELP, app
from peronamalik.cli.batch import is_batch, run_batch
from peronamalik.cli.checks import check_input_exists, check_not_input, refuse_for_one_input
from peronamalik.cli.progress import human_size, progress_bar

if TYPE_CHECKING:
    from peronamalik.core import DiffusionParams
    from peronamalik.core.progress import Progress
    from peronamalik.io.metadata import PixelMetadata


class OrKeyword(click.ParamType):
    """A value parsed by ``parse`` (``float`` for --kappa, ``int`` for --channel-axis), or one keyword."""

    def __init__(self, parse: type, keyword: str, what: str) -> None:
        self.parse, self.keyword, self.what = parse, keyword, what
        self.name = f"{parse.__name__.upper()}|{keyword}"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if isinstance(value, self.parse) or value == self.keyword:
            return value
        try:
            return self.parse(str(value))
        except ValueError:
            self.fail(f"{value!r} is neither {self.what} nor {self.keyword!r}", param, ctx)


class SpacingType(click.ParamType):
    """One positive number, or one per spatial axis separated by commas, or ``file``."""

    name = "H[,H...]|file"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name  # as typed: "file" is a word, not a FILE path

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, ...] | str:
        if isinstance(value, tuple) or value == SPACING_FROM_FILE:
            return value
        try:
            return tuple(float(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is neither a comma-separated list of numbers nor {SPACING_FROM_FILE!r}", param, ctx)


class NoiseType(click.ParamType):
    """``auto``, one number (a standard deviation) or two separated by a comma (``A,B``)."""

    name = "SIGMA|A,B|auto"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name  # as typed: 'auto' is a word

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if not isinstance(value, str) or value == "auto":
            return value
        try:
            numbers = tuple(float(part) for part in value.split(","))
        except ValueError:
            numbers = ()
        if len(numbers) not in (1, 2):
            self.fail(f"{value!r} is neither a number, two numbers A,B nor 'auto'", param, ctx)
        return numbers[0] if len(numbers) == 1 else numbers


#: ``--noise-region``: a ``(start, stop)`` pair per spatial axis, as numpy slices them.
Region = tuple[tuple[int | None, int | None], ...]


class RegionType(click.ParamType):
    """``START:STOP`` per spatial axis, separated by commas, as numpy slices them (an end left
    out is the axis's end; a negative one counts from it): ``(start, stop)`` pairs."""

    name = "START:STOP,..."

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if not isinstance(value, str):
            return value
        try:
            region = tuple(tuple(int(end) if end.strip() else None for end in part.split(":")) for part in value.split(","))
        except ValueError:
            region = ()
        if not region or any(len(ends) != 2 for ends in region):
            self.fail(f"{value!r} is not START:STOP per axis, separated by commas (e.g. 0:128,300:428)", param, ctx)
        return region


#: ``--spacing file``: the pixel size the input's metadata gives (ImageJ or OME TIFF).
SPACING_FROM_FILE = "file"


SMOOTH_HELP = """Edge-preserving Perona-Malik smoothing of an image or volume.

INPUT: PNG, JPEG, TIFF (16-bit and multi-page volumes too; an ImageJ/OME time series one time
point at a time), .npy, another Pillow format, or zarr / OME-Zarr (chunk by chunk on Dask).
An alpha channel is not smoothed: it is dropped, with a warning.

\b
Examples:
  peronamalik smooth photo.png                    # photo-smooth.png here
  peronamalik smooth noisy.tif --kappa auto --iterations auto -o clean.tif
  peronamalik smooth cells.tif --kappa auto --iterations auto --noise 3e-5,1e-8
                     # a 16-bit camera's noise: gain 2/65535, (read noise 6.5/65535)²
  peronamalik smooth grainy.jpg --kappa auto --iterations auto --noise-region 0:150,:
                     # the noise read in the top 150 rows (sky), not the grain below
  peronamalik smooth ct.npy --spacing 2,1,1 --compare before-after.png
  peronamalik smooth stack.tif --spacing file      # the voxel size of an ImageJ/OME TIFF
  peronamalik smooth 'scans/*.tif' -o out/ --workers 2   # a batch (or a folder), one task each
"""


@app.command("smooth", help=SMOOTH_HELP, short_help="Edge-preserving Perona-Malik smoothing of an image or volume.")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(), show_default="INPUT-smooth.EXT here",
              help="Result: .png, .jpg, .tif or .npy (bit depth kept where the format allows).")
@click.option("--iterations", default="20", show_default=True, type=OrKeyword(int, "auto", "an integer"),
              help="Number of explicit steps, or 'auto': the stopping time of least estimated error.")
@click.option("--kappa", default="0.1", show_default=True, type=OrKeyword(float, "auto", "a number"),
              help="Contrast parameter in image units ([0, 1] for 8/16-bit and float images, the values "
                   "themselves for other integers), or 'auto' to choose it for denoising.")
@click.option("--dt", type=float, default=None, help="Time step; default: the largest stable one.")
@click.option("--diffusivity", default="exp", show_default=True,
              type=click.Choice(["exp", "rational", "tukey", "inv"]),
              help="Edge-stopping function ('inv' goes with --scheme seed).")
@click.option("--scheme", default="flux", show_default=True, type=click.Choice(["flux", "flux8", "gradient", "seed"]),
              help="flux: textbook 2·ndim neighbours; flux8: 2-D with diagonals; gradient: the conductance of the "
                   "whole gradient between neighbours (ITK's); seed: the original's step.")
@click.option("--coupled", is_flag=True, help="One conductance for all colour channels.")
@click.option("--sigma", default="0", show_default=True, type=OrKeyword(float, "auto", "a number"),
              help="Gaussian pre-smoothing of the conductance (Catté), or 'auto' (0 or 1).")
@click.option("--noise", default="auto", show_default=True, type=NoiseType(),
              help="For the 'auto' parameters, the noise when known, in image units ([0, 1] for 8/16-bit "
                   "images): its standard deviation, or A,B for the variance A*intensity + B (Poisson-Gaussian: "
                   "a camera's gain and read noise squared); or 'auto': read from the image (grain or fine "
                   "texture in a photo reads as noise too: see --noise-region; keep 'auto' for nearly flat or "
                   "binary float pictures).")
@click.option("--noise-region", type=RegionType(), default=None,
              help="For the 'auto' parameters: read the noise in this part of the picture only, START:STOP per "
                   "axis (rows first, as numpy slices), and choose for that noise over the whole: a smooth part "
                   "(sky, background) where grain or texture elsewhere would read as noise.")
@click.option("--spacing", type=SpacingType(), default=None,
              help="Physical spacing: one value or one per axis, or 'file': the pixel size an ImageJ or OME TIFF "
                   "gives (then kappa is per unit of that length); default: 1 per axis.")
@click.option("--channel-axis", type=OrKeyword(int, "none", "an integer"), default=None,
              help="Axis of the colour channels, or 'none'; default: as read (RGB last, volumes none).")
@click.option("--device", default=None, help=DEVICE_HELP)
@click.option("--compare", type=click.Path(path_type=Path), default=None,
              help="Also write a before/after image side by side (volumes: middle slice).")
@click.option("--every", type=click.IntRange(min=1), default=None,
              help="Animate the diffusion as it evolves: a frame every N iterations (-o .gif .webp .mp4 .webm or dir/).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress, no \"wrote\" line, no values chosen for 'auto' (errors and warnings still print).")
@click.option("--chunks", type=int, default=None, help="zarr: voxels per chunk and axis (default: the input's).")
@click.option("--workers", type=int, default=None, help="zarr, batch: run on a local Dask cluster of N processes.")
@click.option("--scheduler", default=None, help="zarr, batch: run on the Dask cluster at this address (tcp://host:port).")
def smooth(
    input_path: Path,
    output: str | Path | None,
    iterations: int | str,
    kappa: float | str,
    dt: float | None,
    diffusivity: str,
    scheme: str,
    coupled: bool,
    sigma: float | str,
    noise: float | tuple[float, float] | str,
    noise_region: Region | None,
    spacing: tuple[float, ...] | str | None,
    channel_axis: int | str | None,
    device: str | None,
    compare: Path | None,
    every: int | None,
    overwrite: bool,
    quiet: bool,
    chunks: int | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    check_input_exists(input_path)
    from peronamalik.core import DiffusionParams, diffuse
    from peronamalik.core.arrays import to_float_tensor, unit_scale
    from peronamalik.io.atomic import atomic_output, check_target
    from peronamalik.io.animation import check_output_kind
    from peronamalik.io.evolution import check_evolution_output, write_evolution
    from peronamalik.io.images import check_image_output, read_image, side_by_side, write_image
    from peronamalik.io.metadata import PixelMetadata

    if output is None and not is_batch(input_path):
        output = Path(f"{input_path.stem}-smooth{input_path.suffix}")
    frames_to = output  # as given: with --every, a trailing '/' names a folder of frames
    output = None if output is None else Path(output)
    from_file = spacing == SPACING_FROM_FILE
    if from_file:
        spacing = None  # read with the input (each file of a batch its own; zarr: its OME scale, as by default)
    params = DiffusionParams(  # checked before anything is read
        iterations=iterations, kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme,
        spacing=spacing[0] if spacing is not None and len(spacing) == 1 else spacing,
        coupled=coupled, sigma=sigma, noise=noise, device=device,
    )
    for option, given in (("--noise", params.noise != "auto"), ("--noise-region", noise_region is not None)):
        if given and "auto" not in (params.kappa, params.iterations, params.sigma):
            raise InputError(f"{option} is what the 'auto' parameters are chosen for: give --kappa, --iterations or "
                             f"--sigma auto, or drop {option}")
    if params.noise != "auto" and noise_region is not None:
        raise InputError("--noise gives the noise and --noise-region says where to read it: give one of them")
    if is_batch(input_path):  # a glob or a folder: one task per file
        return run_batch("smooth", input_path, output)
    check_not_input(input_path, output, "-o", "the result")
    check_not_input(input_path, compare, "--compare", "the comparison")
    if ".zarr" in (input_path.suffix.lower(), output.suffix.lower()):  # volumes bigger than memory, on Dask
        from peronamalik.cli.smooth_dask import smooth_zarr
        from peronamalik.io.zarr import read_zarr

        for option, value in (("--every", every), ("--compare", compare), ("--device", device)):
            if value is not None:
                raise InputError(f"{option} is not available for zarr (run chunk by chunk on Dask's CPU workers): drop {option}")
        if from_file and (input_path.suffix.lower() != ".zarr" or read_zarr(input_path).spacing is None):
            raise InputError(f"--spacing file: {input_path} has no OME-Zarr scale; give --spacing H[,H...]")
        options = dict(iterations=iterations, kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme,
                       coupled=coupled, sigma=sigma, noise=noise, spacing=spacing, channel_axis=channel_axis)  # fmt: skip
        smooth_zarr(input_path, output, chunks=chunks, workers=workers, scheduler=scheduler,
                    overwrite=overwrite, options=options, noise_region=noise_region, quiet=quiet)  # fmt: skip
        if not quiet:
            volume = read_zarr(output).array  # the metadata only
            click.echo(f"wrote {output} ({'×'.join(map(str, volume.shape))} {volume.dtype})", err=True)
        return
    refuse_for_one_input("zarr volumes", chunks=chunks)
    refuse_for_one_input("zarr volumes and batches (many files)", workers=workers, scheduler=scheduler)
    outputs = [output] if compare is None else [output, compare]
    if compare is not None and compare.absolute() == output.absolute():
        raise InputError("--compare and -o name the same file")
    if every is not None:
        check_evolution_output(frames_to, compare, overwrite)
    else:
        for path in outputs:
            check_image_output(path)
            check_target(path, overwrite=overwrite)
    loaded = read_image(input_path)
    if loaded.array.dtype.kind == "f":  # the core's NaN/infinity check, said with the file's name
        to_float_tensor(loaded.array, name=str(input_path))
    if loaded.alpha:
        warnings.warn(f"{input_path} has an alpha channel; it is dropped (the result is opaque)", stacklevel=1)
    series = loaded.time_axis is not None  # each time point is smoothed on its own
    for option, value in (("--every", every), ("--channel-axis", channel_axis)):
        if series and value is not None:
            raise InputError(f"{option} is not available for a time series ({input_path}: each time point is "
                             f"smoothed on its own, its channels as the file says): drop {option}")
    axis = loaded.channel_axis if channel_axis is None else (None if channel_axis == "none" else channel_axis)
    if every is None:
        check_image_output(output, loaded.array.shape, axis)
    params = params.replace(channel_axis=axis, **calibration(input_path, loaded.metadata, from_file, params.spacing, quiet))
    # a series' parameters, and its --compare, from its middle time point
    shown = loaded.array[len(loaded.array) // 2] if series else loaded.array
    if compare is not None:
        check_image_output(compare, *compared_plane(shown.shape, axis))
    on = f" (on time point {len(loaded.array) // 2 + 1} of {len(loaded.array)})" if series else ""
    params = with_auto_chosen(params, shown, said=None if quiet else on, noise_region=noise_region)
    if every is not None:
        with progress_bar("smoothing", "it", delay=1.0, quiet=quiet) as progress:
            written = write_evolution(
                loaded.array, frames_to, overwrite=overwrite, every=every, progress=progress,
                icc_profile=loaded.metadata.icc_profile, **vars(params),
            )
        if not quiet:
            frames = 1 + -(-params.iterations // every)
            what = f"the last of {frames} frames" if check_output_kind(frames_to) == "png" else f"{frames} frames"
            click.echo(f"wrote {written} ({what}, {human_size(written)})", err=True)
        return
    with progress_bar("diffusing", "it", delay=1.0, quiet=quiet) as progress:
        if series:
            result = diffuse_series(loaded.array, params, progress)
        else:
            result = diffuse(loaded.array, **vars(params), progress=progress)
    with ExitStack() as stack:
        temp = stack.enter_context(atomic_output(output, overwrite=overwrite))
        write_image(temp, result, like_dtype=loaded.array.dtype, channel_axis=axis, metadata=loaded.metadata,
                    time_axis=loaded.time_axis)
        if compare is not None:
            temp = stack.enter_context(atomic_output(compare, overwrite=overwrite))
            picture = side_by_side(shown, result[len(result) // 2] if series else result, channel_axis=axis)
            like = loaded.array.dtype if loaded.array.dtype.kind == "f" or unit_scale(loaded.array.dtype) else np.uint16
            write_image(temp, picture, like_dtype=like, channel_axis=None if picture.ndim == 2 else -1,
                        metadata=PixelMetadata(icc_profile=loaded.metadata.icc_profile))
    if not quiet:
        also = "" if compare is None else f" and {compare} ({human_size(compare)})"
        click.echo(f"wrote {output} ({human_size(output)}){also}", err=True)


def compared_plane(shape: tuple[int, ...], axis: int | None) -> tuple[tuple[int, ...], int | None]:
    """``(shape, channel_axis)`` of one side of ``--compare`` for an image of ``shape``: a plane
    (a volume's middle slice) with the image's channels last."""
    if axis is None:
        return tuple(shape[-2:]), None
    return (*map(int, np.delete(shape, axis)[-2:]), shape[axis]), -1


def with_auto_chosen(
    params: DiffusionParams,
    image: np.ndarray,
    *,
    said: str | None,
    noise_region: Region | None = None,
) -> DiffusionParams:
    """``params`` with its ``'auto'`` kappa, iterations and sigma chosen on ``image``, for the
    noise read in ``noise_region`` of it if given (:func:`noise_read_in`); the choice is
    printed on stdout with ``said`` after it, unless ``said`` is None."""
    from peronamalik.core import estimate_parameters

    values = dict(kappa=params.kappa, iterations=params.iterations, sigma=params.sigma)
    if "auto" not in values.values():
        return params
    if noise_region is not None:
        params = params.replace(noise=noise_read_in(image, noise_region, params))
        said = None if said is None else f", noise read in {region_text(noise_region)}{said}"
    options = {name: value for name, value in vars(params).items() if name not in values}
    chosen = estimate_parameters(image, **values, **options)
    if said is not None:
        click.echo(chosen.describe() + said)
    return params.replace(**chosen.as_options())


def noise_read_in(
    image: np.ndarray, region: Region, params: DiffusionParams
) -> tuple[float, float]:
    """The noise's variance line ``(a, b)`` (:attr:`AutoParameters.noise_line`) read in
    ``region`` of ``image``: one ``(start, stop)`` per spatial axis (the channel axis of
    ``params`` kept whole), each keeping two blocks of the noise reading or more."""
    from peronamalik.core.noise_level.blocks import least_part_side
    from peronamalik.core.parameters import noise_line_in

    axis = params.channel_axis
    spatial = [dim for dim in range(image.ndim) if axis is None or dim != axis % image.ndim]
    shape = "×".join(str(image.shape[dim]) for dim in spatial)
    if len(region) != len(spatial):
        raise InputError(f"--noise-region {region_text(region)} has {len(region)} START:STOP for a picture of "
                         f"{len(spatial)} axes ({shape}): give one per axis")
    least = least_part_side(len(spatial))
    index: list[slice] = [slice(None)] * image.ndim
    for dim, (start, stop) in zip(spatial, region):
        first, end, _ = slice(start, stop).indices(image.shape[dim])
        if end - first < least:
            raise InputError(f"--noise-region {region_text(region)} keeps {max(end - first, 0)} of the {image.shape[dim]} "
                             f"pixels along axis {spatial.index(dim)} ({shape}); the noise is read on {least} or more")
        index[dim] = slice(first, end)
    return noise_line_in(image[tuple(index)], name=f"--noise-region {region_text(region)}", channel_axis=axis,
                         coupled=params.coupled, spacing=params.spacing, device=params.device)  # fmt: skip


def region_text(region: Region) -> str:
    """``region`` as ``--noise-region`` takes it: ``0:128,300:``."""
    return ",".join(":".join("" if end is None else str(end) for end in ends) for ends in region)


def diffuse_series(series: np.ndarray, params: DiffusionParams, progress: Progress | None) -> np.ndarray:
    """Each time point of ``series`` (axis 0) diffused on its own with ``params``, reported
    to ``progress`` as one run of them all."""
    from peronamalik.core import diffuse

    count, results = len(series), []
    for index, frame in enumerate(series):
        def report(done: int, total: int | None, index: int = index) -> None:
            if progress is not None:
                progress(index * (total or 0) + done, None if total is None else count * total)

        results.append(diffuse(frame, **vars(params), progress=report))
    return np.stack(results)


def calibration(
    input_path: Path, metadata: PixelMetadata, from_file: bool, spacing: object, quiet: bool
) -> dict[str, tuple[float, ...]]:
    """With ``--spacing file``, ``{"spacing": ...}``: the file's pixel size (an error if it has
    none), said on stderr; else nothing, with a warning where the file's voxels are not cubes
    and no ``--spacing`` was given (they are diffused as cubes)."""
    if not from_file:
        if spacing is None and metadata.anisotropic():
            warnings.warn(f"{input_path}'s pixels are {metadata.describe()}; diffused as if equal: "
                          "--spacing file diffuses them as they are", stacklevel=1)
        return {}
    pixel_size = metadata.spacing()
    if pixel_size is None:
        found = f"gives only {metadata.describe()}" if metadata.pixel_size else "has no pixel size (ImageJ or OME TIFF)"
        raise InputError(f"--spacing file: {input_path} {found}; give --spacing H[,H...]")
    if not quiet:
        click.echo(f"spacing {metadata.describe()} (from {input_path})", err=True)
    return {"spacing": pixel_size}
