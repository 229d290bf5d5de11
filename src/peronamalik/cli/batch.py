"""Batches: ``peronamalik smooth 'scans/*.tif' -o out/`` and ``peronamalik art 'photos/*.jpg' -o out/``.

INPUT is a glob or a folder (its image files), ``-o`` a folder; an existing file is one
input whatever its name (``photo[1].png``).  Every file is one task,
run on the cluster that ``--workers`` / ``--scheduler`` choose
(:func:`peronamalik.cli.smooth_dask.dask_client`), else on a local pool of threads, one per
core, one kernel thread each.  A task runs the same command on one file (the command's own
checks, atomic writes and sidecar), so a batch of one file writes what the single-file
command writes.

Failures: a file that fails is reported on one line as it fails, and does not stop the
others; a summary follows, and the exit status is 1 if any failed.

Resume: a file is skipped when its output exists and so does the sidecar ``OUTPUT.json``
beside it, recording the same input (SHA-256 of its bytes) and the same settings:
``art`` compares the sidecar it writes (config, and the seed when one is given);
``smooth`` writes a sidecar of its own with the command's options.  Anything else (no
sidecar, another input or other settings) is rendered again, replacing the output only
with ``--overwrite``.
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from peronamalik._validate import InputError
from peronamalik.io.atomic import atomic_output
from peronamalik.io.interrupts import BatchInterrupted, signal_number, stops_passed_on

#: Characters that make INPUT a glob pattern.
GLOB_CHARACTERS = frozenset("*?[")

#: The output kind of ``art`` in a batch.
ART_SUFFIX = ".gif"

#: Options that change how a batch runs, not what it writes (left out of the sidecar).
RUN_ONLY = frozenset({"overwrite", "quiet", "chunks", "device", "workers", "scheduler"})


def is_batch(input_path: Path | None) -> bool:
    """INPUT names many files: a folder that is not a zarr store, or a glob pattern that is
    not the name of an existing file or folder (``photo[1].png`` that exists is one input)."""
    if input_path is None:
        return False
    if input_path.exists():
        return input_path.is_dir() and input_path.suffix.lower() != ".zarr"
    return bool(GLOB_CHARACTERS & set(str(input_path)))


def image_suffixes() -> set[str]:
    """The suffixes of the image files a batch reads or writes: Pillow's formats, NumPy's."""
    from PIL import Image

    return {*Image.registered_extensions(), ".npy"}


def batch_inputs(input_path: Path) -> list[Path]:
    """The files of a batch, sorted: a folder's image files (by suffix, not hidden), or
    the files a glob matches."""
    if input_path.is_dir():
        suffixes = image_suffixes()
        found = [p for p in input_path.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(".")]
    else:
        found = [Path(name) for name in glob.glob(os.fspath(input_path))]
    files = sorted(p for p in found if p.is_file())
    if not files:
        raise InputError(f"INPUT {input_path} matches no image files")
    return files


def sidecar_of(output: Path) -> Path:
    """``out/a.tif`` → ``out/a.tif.json`` (as ``art`` names its sidecar)."""
    return output.with_name(output.name + ".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, paths strings)."""
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class Job:
    """One file of a batch: run ``command`` (``smooth`` or ``art``) with ``options`` (the
    command's keywords but INPUT and ``-o``) on ``source``, writing ``target``."""

    command: str
    source: Path
    target: Path
    options: dict[str, Any]

    def settings(self) -> dict[str, Any]:
        """What the sidecar must record for the output to count as done."""
        if self.command == "art":
            from peronamalik.cli.art import resolve_settings

            opts = self.options
            flags = {key: opts[key] for key in ("iterations", "every", "fps", "size")}
            config, _ = resolve_settings(opts["config_file"], opts["preset"], opts["assignments"], flags)
            return {"config": as_json(config.to_dict()), **({"seed": opts["seed"]} if opts["seed"] is not None else {})}
        return {"options": as_json({k: v for k, v in self.options.items() if k not in RUN_ONLY})}

    def record(self) -> dict[str, Any] | None:
        """The output's sidecar as read, or None (no output, no sidecar, or not one of ours)."""
        sidecar = sidecar_of(self.target)
        if not (self.target.exists() and sidecar.is_file()):
            return None
        try:
            record = json.loads(sidecar.read_text())
            ours = isinstance(record["input"]["sha256"], str)  # a sidecar of ours names its input
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if ours else None

    def done(self) -> bool:
        """The output and a matching sidecar exist (see the module notes); an animation that
        a stop signal cut short is not done."""
        record = self.record()
        if record is None or record.get("interrupted"):
            return False
        wanted = self.settings()
        return record["input"]["sha256"] == file_sha256(self.source) and all(record.get(k) == v for k, v in wanted.items())

    def stopped_partway(self) -> bool:
        """The output is this batch's own animation, cut short by a stop signal: the same
        command replaces it without ``--overwrite``."""
        record = self.record()
        return record is not None and bool(record.get("interrupted"))

    def run(self) -> str | None:
        """Run the command on this file: None when done, else the one-line reason it failed.

        Runs on a worker; never raises (the batch goes on)."""
        from peronamalik.cli.app import app

        os.environ["TQDM_DISABLE"] = "1"  # one bar for the whole batch, drawn by the caller
        try:
            options = {**self.options, "overwrite": True} if self.stopped_partway() else self.options
            app.commands[self.command].callback(input_path=self.source, output=self.target, **options)
            if self.command == "smooth":
                record = {"input": {"path": str(self.source), "sha256": file_sha256(self.source)}, **self.settings()}
                with atomic_output(sidecar_of(self.target), overwrite=True) as temporary:
                    temporary.write_text(json.dumps(record, indent=2) + "\n")
        except click.exceptions.Exit as stop:  # an animation stopped partway (a valid file), or another exit
            return f"{STOPPED} (exit status {stop.exit_code})"
        except Exception as exc:  # any failure of one file is reported, and the others go on
            reason = str(exc) or type(exc).__name__
            return reason if isinstance(exc, (InputError, OSError)) else f"{type(exc).__name__}: {reason}"
        return None


#: How :meth:`Job.run` starts the reason of a file that stopped: an animation stopped partway by
#: a stop signal (a valid file marked interrupted).
STOPPED = "stopped"


def outcome(future: concurrent.futures.Future) -> str | None:
    """A finished :meth:`Job.run`'s result: None (done) or why not; a stop signal the task
    raised reads as stopped."""
    error = future.exception()
    if isinstance(error, KeyboardInterrupt):
        return STOPPED
    return f"{type(error).__name__}: {error}" if error is not None else future.result()


def run_job(job: Job) -> str | None:
    """:meth:`Job.run`, as a module-level function for the cluster."""
    return job.run()


def batch_folder(input_path: Path, output: str | os.PathLike[str] | None) -> Path:
    """``-o`` of a batch: a folder, existing or to be made; not a file, nor a name with an
    image's suffix (``-o out/x.png``), unless it ends in ``/`` or is an existing folder."""
    if output is None:
        raise InputError(f"INPUT {input_path} names many files: give -o, a folder for the results")
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o {folder} is not a folder; a batch writes into a folder")
    named_a_folder = folder.is_dir() or os.fspath(output).endswith(("/", os.sep))
    if not named_a_folder and folder.suffix.lower() in {*image_suffixes(), ".zarr"}:
        raise InputError(f"-o {folder} names a {folder.suffix} file; a batch writes into a folder: give -o a folder")
    return folder


@contextmanager
def file_executor(workers: int | None, scheduler: str | None) -> Iterator[concurrent.futures.Executor]:
    """A ``concurrent.futures`` executor on :func:`dask_client`'s cluster, else a pool of
    one thread per core (one kernel thread each)."""
    from peronamalik.cli.smooth_dask import dask_client
    from peronamalik.core.threads import torch_threads, usable_cores

    with dask_client(workers, scheduler) as client:
        if client is not None:
            with client.get_executor(pure=False) as executor:
                yield executor
            return
        with torch_threads(1), concurrent.futures.ThreadPoolExecutor(max_workers=usable_cores()) as executor:
            yield executor


def run_batch(command: str, input_path: Path, output: str | os.PathLike[str] | None, *, suffix: str | None = None) -> None:
    """Run the current ``command`` on every file of ``input_path`` into the folder ``output``,
    with the command line's other options (``--workers`` / ``--scheduler`` pick the cluster).

    Each output is named after its input (``suffix``: with this extension instead).  Exits
    with status 1 when a file failed (after all the others ran), with a summary line.
    Bad input (no files, no folder for ``-o``, a bad ``--scheduler``, a cluster that does
    not answer) is refused before the folder is made.
    """
    from peronamalik.cli.smooth_dask import check_cluster_options

    options = dict(click.get_current_context().params)
    workers, scheduler = options["workers"], options["scheduler"]
    options.update(workers=None, scheduler=None)  # each file runs where its task runs
    del options["input_path"], options["output"]
    if options.get("compare") is not None:
        raise InputError("--compare takes one INPUT file, not a batch")
    if options.get("chunks") is not None:
        raise InputError("--chunks applies to zarr volumes, not a batch of images: drop --chunks")
    quiet = bool(options.get("quiet"))
    if "quiet" in options:
        options["quiet"] = True  # one summary, not a line per file
    sources = batch_inputs(input_path)
    folder = batch_folder(input_path, output)
    if any(source.parent.resolve() == folder.resolve() for source in sources):
        raise InputError(f"-o {folder} holds the inputs: the results would be inputs of the next run "
                         "(and a re-run would not find them done); give another folder")
    check_cluster_options(workers, scheduler)
    jobs = [Job(command, s, folder / (s.name if suffix is None else s.stem + suffix), options) for s in sources]
    clashes = {job.target for job in jobs if sum(j.target == job.target for j in jobs) > 1}
    if clashes:
        raise InputError(f"inputs would write the same output: {', '.join(sorted(map(str, clashes)))}")
    pending = [job for job in jobs if not job.done()]
    skipped = len(jobs) - len(pending)
    failed: list[Job] = []
    stopped: KeyboardInterrupt | None = None
    from tqdm.auto import tqdm

    previous = os.environ.get("TQDM_DISABLE")
    try:
        with stops_passed_on() as pass_on, file_executor(workers, scheduler) as executor:
            folder.mkdir(parents=True, exist_ok=True)  # once the cluster answers: a bad one leaves nothing
            with tqdm(
                total=len(jobs), initial=skipped, desc=command, unit="file", disable=quiet, file=sys.stderr
            ) as bar:
                futures = {executor.submit(run_job, job): job for job in pending}
                try:
                    for future in concurrent.futures.as_completed(futures):
                        job = futures[future]
                        reason = outcome(future)  # an exception: the task itself was lost (a worker died for good)
                        if reason is not None:
                            failed.append(job)
                            named = reason if str(job.source) in reason else f"{job.source}: {reason}"
                            bar.write(f"peronamalik: {named}", file=sys.stderr)
                        bar.update(1)
                except KeyboardInterrupt as exc:  # Ctrl-C reaches this thread only: start no more files
                    stopped = exc
                    for future in futures:
                        future.cancel()
                    pass_on(signal_number(exc))  # the animations being made stop at their next frame
            # leaving the executor waits for the files being made: they end as valid outputs
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
    if stopped is not None:
        outcomes = [outcome(future) for future in futures if not future.cancelled()]
        partial = sum(reason is not None and reason.startswith(STOPPED) for reason in outcomes)
        raise BatchInterrupted(outcomes.count(None), partial, len(futures) - len(outcomes), folder) from stopped
    written = len(pending) - len(failed)
    if failed or not quiet:  # -q: no progress and no summary, but what failed is said
        click.echo(f"{command}: {written} written, {skipped} already done, {len(failed)} failed, into {folder}", err=True)
    if failed:
        raise click.exceptions.Exit(1)
