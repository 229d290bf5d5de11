"""``animate`` (frames as they are made) and ``render`` (an animation file) for the learned mode."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from peronamalik._validate import InputError, InputTypeError, flag
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import Callback, LearnedDiffusion, at_work_scale, luminance
from peronamalik.art.presets import DEFAULT_PRESET, preset_config
from peronamalik.art.source import Source, load_source, tinted_if_grey
from peronamalik.backends import policy
from peronamalik.core.arrays import resolve_device
from peronamalik.core.progress import Progress, check_progress
from peronamalik.io.interrupts import RenderInterrupted

if TYPE_CHECKING:
    from peronamalik.io.video import Colour, FrameTimes


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's frames: config, seed, preset name and device."""

    config: ArtConfig
    seed: int
    preset: str
    device: torch.device


def resolve_run(
    *, preset: str = DEFAULT_PRESET, config: ArtConfig | None = None, seed: int | None = None,
    device: str | torch.device | None = None, **overrides: Any,
) -> RunSpec:
    """The preset's config (or ``config``) with ``overrides`` applied; a random seed when None.

    ``iterations=None`` and ``every=None`` keep the preset's values.  ``config`` must be an
    :class:`ArtConfig` (:func:`check_config`); ``seed`` any integer (numpy's too) in [0, 2**63).
    """
    check_config(config)
    base = config if config is not None else preset_config(preset, photo=True)
    for name in ("iterations", "every"):
        if name in overrides and overrides[name] is None:
            del overrides[name]
    if seed is None:
        seed = secrets.randbits(31)
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InputTypeError(f"seed must be an integer in [0, 2**63), got {type(seed).__name__} {seed!r:.40}")
    elif not 0 <= int(seed) < 2**63:
        raise InputError(f"seed must be an integer in [0, 2**63), got {int(seed)}")
    else:
        seed = int(seed)  # np.int64(7) → 7: the sidecar records a JSON number
    return RunSpec(base.replace(**overrides), seed, preset, resolve_device(device, None))


def check_config(config: Any) -> None:
    """``config`` is None or an :class:`ArtConfig`; a preset's name or a dict is refused with
    the way to pass it (``preset=``; :meth:`ArtConfig.from_dict` or keyword overrides)."""
    if config is None or isinstance(config, ArtConfig):
        return
    if isinstance(config, str):
        hint = f"; for the preset {config!r:.40} pass preset={config!r:.40}"
    elif isinstance(config, Mapping):
        hint = ("; for a dict pass config=ArtConfig.from_dict(d) (other fields: ArtConfig's defaults), or its "
                "fields as keywords (kappa=0.5: the preset's config with that field changed)")
    else:
        hint = ""
    raise InputTypeError(f"config must be an ArtConfig or None, got {type(config).__name__}{hint}")


def frames_from(source: Source, spec: RunSpec, callback: Callback | None = None) -> Iterator[np.ndarray]:
    """Run the learned diffusion on a loaded source, yielding a frame after every
    ``config.every``-th iteration (iteration 0 included) and refreshing on the schedule.
    With ``config.grey_tint`` a grey source starts with a warm cast (:func:`tinted_if_grey`).

    With ``config.pre_step`` one step with the initial K (no learning) comes first, as in the
    seed; with ``config.channels == "luminance"`` an RGB source's luminance diffuses and the
    frames keep its colours; with ``config.work_side`` a larger source diffuses at that size
    and the frames show the change on the full-size source (:meth:`LearnedDiffusion.frame`)."""
    config = spec.config
    generator = torch.Generator().manual_seed(spec.seed)
    original = tinted_if_grey(source.tensor.to(spec.device), config.grey_tint)
    work = at_work_scale(original, config)
    if config.channels == "luminance" and original.shape[1] == 3:
        engine = LearnedDiffusion(luminance(work), config, generator, colour=original)
    else:
        engine = LearnedDiffusion(work, config, generator, colour=None if work is original else original)
    if config.pre_step:  # the seed's step from I_0 before its loop, no learning
        engine.image = engine.advance(engine.image)
    for iteration in range(config.iterations):
        engine.step()
        if iteration % config.every == 0:
            yield engine.frame()
        refreshed = engine.refresh_if_due(iteration)
        if callback is not None:
            callback(iteration, engine, refreshed)


def animate(
    image: Any,
    *,
    iterations: int | None = None,
    every: int | None = None,
    preset: str = DEFAULT_PRESET,
    seed: int | None = None,
    device: str | torch.device | None = None,
    config: ArtConfig | None = None,
    callback: Callback | None = None,
    **overrides: Any,
) -> Iterator[np.ndarray]:
    r"""Frames of a "Perona-Malik on drugs" animation, as they are made.

    Each iteration diffuses the image with the seed's step using a learnable operator K,
    :math:`I_t = \mathrm{clamp}(I_{t-1} + dt\,(K * I_{t-1})\,c, 0, 1)`, then takes one
    optimizer step on K for the weighted loss of :class:`ArtConfig`.

    Parameters
    ----------
    image : path, numpy array, PIL image or None
        The photo (None: the bundled sample).  Min-max normalised to [0, 1].
    iterations, every : int, optional
        Steps, and a frame after every ``every``-th; None takes the preset's.
    preset : str
        A name from :data:`peronamalik.art.presets.PRESETS`.
    seed : int, optional
        Seeds the kernel noise, any integer (numpy's too) in [0, 2**63); same seed, config,
        input and device give identical frames on the CPU.  None draws one.
    device : str or torch.device, optional
        None: CUDA if available, else CPU.
    config : ArtConfig, optional
        Replaces the preset's config.  Only an :class:`ArtConfig`: a preset's name goes in
        ``preset``; a dict is refused (ambiguous: the preset's values or ArtConfig's for the
        fields it leaves out?): pass ``ArtConfig.from_dict(d)`` (ArtConfig's defaults) or its
        fields as ``**overrides`` (the preset's config with them changed).
    callback : callable, optional
        ``callback(iteration, engine, refreshed)`` after every iteration.
    **overrides
        Any :class:`ArtConfig` field.

    Yields
    ------
    numpy.ndarray
        ``H×W×3`` uint8 frames.

    Examples
    --------
    >>> import numpy as np
    >>> frames = list(animate(np.random.default_rng(0).random((32, 32)), size=32, iterations=10, every=5, seed=0))
    >>> len(frames), frames[0].shape, frames[0].dtype
    (2, (32, 32, 3), dtype('uint8'))
    """
    spec = resolve_run(preset=preset, config=config, seed=seed, device=device, iterations=iterations, every=every, **overrides)
    source = load_source(image, size=spec.config.size, device=spec.device)
    return frames_from(source, spec, callback)


def sidecar_path(output: Path) -> Path:
    """``out.gif`` → ``out.gif.json``; a folder of frames named ``.`` (or ``./``) has its
    sidecar beside it too, under the folder's own name."""
    named = output if output.name else Path(os.path.abspath(output))
    if not named.name:
        raise InputError(f"-o {output} names no file or folder for the animation")
    return named.with_name(named.name + ".json")


#: The options :func:`check_output_options` checks, by their library names.
OUTPUT_OPTIONS = ("dither", "gif_quality", "fps")


def check_output_options(
    output: str | os.PathLike[str], *, dither: Any = False, gif_quality: str | None = None, fps: Any = None,
    names: Mapping[str, str] | None = None,
) -> None:
    """Refuse, before any work, an option that does nothing for ``output``'s format instead of
    ignoring it: ``dither`` (True) and ``gif_quality`` (given, not None) apply to .gif only;
    ``fps`` (given) not to a .png, which holds the last frame only.  ``names``: what to call
    the options in the message (the CLI's ``--quality``), by their names here.

    Raises
    ------
    ValueError
        An unknown output kind or ``gif_quality``, or an option the format does not take.
    TypeError
        ``dither`` is not a boolean.
    """
    from peronamalik.io.animation import FOLDER, check_output_kind
    from peronamalik.io.gif import GIF_QUALITIES

    label = {name: name for name in OUTPUT_OPTIONS} | dict(names or {})
    kind = check_output_kind(output)
    dither = flag(label["dither"], dither)
    if gif_quality is not None and gif_quality not in GIF_QUALITIES:
        raise InputError(f"{label['gif_quality']} must be one of {', '.join(GIF_QUALITIES)}, not {gif_quality!r:.40}")
    what = "a folder of PNG frames" if kind == FOLDER else f"a .{kind} ({os.fspath(output)})"
    gif_only = [label[name] for name, given in (("gif_quality", gif_quality is not None), ("dither", dither)) if given]
    if gif_only and kind != "gif":
        verb, it = ("applies", "it") if len(gif_only) == 1 else ("apply", "them")
        raise InputError(f"{' and '.join(gif_only)} {verb} to GIF output (.gif) only, not {what}: drop {it}")
    if fps is not None and kind == "png":
        raise InputError(
            f"{label['fps']} does not apply to {what}: a .png holds the last frame only, with no frame rate; "
            f"drop {label['fps']}"
        )


def check_render_output(
    output: str | os.PathLike[str], *, overwrite: bool, dither: Any = False, gif_quality: str | None = None,
    fps: Any = None,
) -> None:
    """Before any work: the options fit ``output``'s format (:func:`check_output_options`),
    and ``output`` (as given: a trailing '/' names a frame folder) and its sidecar can be
    written, and neither exists unless ``overwrite``."""
    from peronamalik.io.animation import check_output
    from peronamalik.io.atomic import check_target

    check_output_options(output, dither=dither, gif_quality=gif_quality, fps=fps)
    check_output(output, overwrite=overwrite)
    check_target(sidecar_path(Path(output)), overwrite=overwrite)


def recorded_path(reference: Any, output: Path) -> Any:
    """An input file's path as the sidecar records it: relative to the sidecar's folder, so
    ``--config OUTPUT.json`` finds it from any working folder (other references unchanged)."""
    if not isinstance(reference, (str, os.PathLike)) or not Path(reference).is_file():
        return reference
    try:
        return Path(os.path.relpath(Path(reference).resolve(), Path(output).resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows): no relative path
        return str(Path(reference).resolve())


def platform_record() -> dict[str, str]:
    """What a run's rounding depends on besides its config and seed: torch's version and the
    CPU's vector instruction set (``torch.backends.cpu.get_cpu_capability()``, e.g. AVX2 or
    AVX512; the native kernels are built for the CPU too).  A ``conv2d`` sums in an order its
    backend picks for that set, so two machines round a step differently, and a chaotic preset
    (glow: momentum 0.9) turns that into another run within a few hundred iterations."""
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability()}


def platform_note(recorded: Mapping[str, str] | None) -> str | None:
    """A line saying where the sidecar's ``platform`` (:func:`platform_record`) differs from
    this machine's and what that means, or None where it does not (or the sidecar has none)."""
    here = platform_record()
    differs = {key: value for key, value in (recorded or {}).items() if here.get(key) not in (None, value)}
    if not differs:
        return None
    then = ", ".join(f"{key} {value}" for key, value in differs.items())
    now = ", ".join(f"{key} {here[key]}" for key in differs)
    return (
        f"the sidecar was recorded with {then}, this machine has {now}: the frames round differently "
        f"(close for most presets; a chaotic one, glow, makes another run of the same look)"
    )


def write_sidecar(
    output: Path, source: Source, spec: RunSpec, frames: int, interrupted: bool, *, overwrite: bool = False,
    backend: str | None = None,
) -> Path:
    """Write ``OUTPUT.json``: config, seed, version, input digest, the backend that ran
    (:mod:`peronamalik.backends`) and the platform (:func:`platform_record`), enough to
    render again."""
    from peronamalik import __version__
    from peronamalik.io.atomic import atomic_output

    record = {
        "peronamalik": __version__,
        "preset": spec.preset,
        "seed": spec.seed,
        "device": str(spec.device),
        "input": {"path": recorded_path(source.reference, output), "sha256": source.sha256},
        "frames": frames,
        "interrupted": interrupted,
        "backend": backend,
        "platform": platform_record(),
        "config": spec.config.to_dict(),
        # the absolute kappa of a source-relative one; a video's follows its first frame (None here)
        "kappa_run": spec.config.relative_to(source.tensor).kappa if source.tensor.numel() else None,
    }
    target = sidecar_path(output)
    with atomic_output(target, overwrite=overwrite) as temporary:
        Path(temporary).write_text(json.dumps(record, indent=2) + "\n")
    return target


def render(
    image: Any,
    output: str | Path,
    *,
    callback: Callback | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    dither: bool = False,
    backend: str | None = None,
    gif_quality: str | None = None,
    **options: Any,
) -> Path:
    """Render the animation of :func:`animate` to ``output`` and its sidecar ``OUTPUT.json``.

    ``image``, ``callback`` and ``options`` (``iterations``, ``every``, ``preset``, ``seed``,
    ``device``, ``config`` and any :class:`ArtConfig` field) are :func:`animate`'s, with its
    defaults.

    The kind follows the extension: .gif, .webp, .mp4, .webm, .png (last frame) or a
    directory of numbered PNG frames.  Written to a temporary file beside the target and
    renamed; an existing output is kept unless ``overwrite``.  On Ctrl-C the frames made so
    far are written and :class:`RenderInterrupted` is raised.  ``dither``: Floyd-Steinberg
    dithering of GIF frames; ``gif_quality``: "high", "medium" or "low" (None: "high"; see
    :func:`~peronamalik.io.animation.open_frame_writer`).  Both are GIF-only, and ``fps``
    does nothing for a .png: given for another format they are refused, before any work
    (:func:`check_output_options`), not ignored.  ``progress(done, total)`` after every iteration (the CLI's
    bar).  ``backend``: run on this backend (e.g. the one a sidecar records; where it
    cannot run here, the closest, with a warning); the sidecar records the one that ran.
    Returns the output path.
    """
    from peronamalik.io.animation import needs_even_size

    # as given: a trailing '/' names a frame folder
    check_render_output(output, overwrite=overwrite, dither=dither, gif_quality=gif_quality, fps=options.get("fps"))
    progress = check_progress(progress)
    spec = resolve_run(**options)
    # an .mp4 of a photo whose resized side is odd: resized to even sides, not padded (a padded
    # row shifts the picture against the photo by up to a pixel)
    source = load_source(image, size=spec.config.size, device=spec.device, even=needs_even_size(output))
    ran: dict[str, str] = {}

    def tick(iteration: int, engine: LearnedDiffusion, refreshed: bool) -> None:
        ran["backend"] = engine.backend
        if progress is not None:
            progress(iteration + 1, spec.config.iterations)
        if callback is not None:
            callback(iteration, engine, refreshed)

    with policy.backend(backend) if backend is not None else contextlib.nullcontext():
        frames = frames_from(source, spec, tick)
        return write_stream(frames, output, spec, source, overwrite=overwrite, dither=dither, ran=ran,
                            gif_quality=gif_quality)


def write_stream(
    frames: Iterator[np.ndarray],
    output: str | os.PathLike[str],
    spec: RunSpec,
    source: Source,
    *,
    audio_from: Path | None = None,
    overwrite: bool = False,
    dither: bool = False,
    colour: Colour | None = None,
    ran: Mapping[str, str] | None = None,
    gif_quality: str | None = None,
    times: FrameTimes | None = None,
) -> Path:
    """Encode ``frames`` to ``output`` as they come, then write ``OUTPUT.json`` (with
    ``ran["backend"]``, filled while the frames are made, when given).  ``times``: when each
    frame is shown, kept by the writer (a video of variable frame rate; see
    :class:`~peronamalik.io.animation.FrameWriter`); None: ``1 / fps`` each.

    ``output`` as the user gave it (a trailing ``/`` names a folder of frames).  Atomic (a
    temporary beside the target, renamed at the end); an existing sidecar is replaced only
    with ``overwrite``.  The sidecar records the frame rate written (GIF and WebP stop at
    50 fps).  On Ctrl-C, SIGTERM or SIGHUP the frames so far make a valid file, the sidecar
    says ``"interrupted": true`` and how many, and :class:`RenderInterrupted` is raised
    (with no file and no sidecar when no frame was made).  ``colour``: the video's
    :class:`~peronamalik.io.video.Colour` (None: BT.709).  ``dither`` and ``gif_quality``
    (None: "high") are for a .gif only, refused for other formats (:func:`check_output_options`).
    """
    from peronamalik.io.animation import open_frame_writer
    from peronamalik.io.interrupts import deferred_signals, raise_if_stopped, signal_number
    from peronamalik.io.video import BT709

    check_render_output(output, overwrite=overwrite, dither=dither, gif_quality=gif_quality)
    writer = None
    try:
        with deferred_signals():  # a stop while the temporary is made must not leave it behind
            writer = open_frame_writer(
                output, fps=spec.config.fps, overwrite=overwrite, audio_from=audio_from, dither=dither,
                colour=colour or BT709, gif_quality=gif_quality or "high", times=times,
            )
        spec = dataclasses.replace(spec, config=spec.config.replace(fps=float(writer.fps)))
        with writer:
            for frame in frames:
                raise_if_stopped()  # a batch's worker thread: the main thread's Ctrl-C, passed on
                writer.write(frame)
    except KeyboardInterrupt as exc:
        with deferred_signals():
            if writer is not None:
                writer.abort()  # nothing to do once the writer kept its frames
            written = 0 if writer is None else writer.frames_written
            target = Path(output) if writer is None else writer.path
            if written:
                write_sidecar(
                    target, source, spec, written, interrupted=True, overwrite=overwrite, backend=(ran or {}).get("backend")
                )
        raise RenderInterrupted(target, written, signal_number(exc)) from exc
    write_sidecar(
        writer.path, source, spec, writer.frames_written, interrupted=False, overwrite=overwrite,
        backend=(ran or {}).get("backend"),
    )
    return writer.path
