"""The outside implementations a case can time: medpy, SimpleITK and OpenCV (each imported
only when its case runs; a missing one is skipped with a note)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from peronamalik.bench.registry import Inputs, Job


def medpy(pick: Callable[[Inputs], np.ndarray], dt: float) -> Callable[[Inputs], Job]:
    def make(inputs: Inputs) -> Job:
        from medpy.filter.smoothing import anisotropic_diffusion

        image, s = pick(inputs), inputs.settings
        return lambda: anisotropic_diffusion(image, niter=s.iterations, kappa=s.kappa, gamma=dt, option=1)

    return make


def simpleitk(pick: Callable[[Inputs], np.ndarray], dt: float) -> Callable[[Inputs], Job]:
    def make(inputs: Inputs) -> Job:
        import SimpleITK as sitk

        image, s = sitk.GetImageFromArray(pick(inputs)), inputs.settings
        f = sitk.GradientAnisotropicDiffusionImageFilter()
        f.SetTimeStep(dt)
        f.SetConductanceParameter(1.0)
        f.SetNumberOfIterations(s.iterations)
        f.SetNumberOfThreads(torch.get_num_threads())
        return lambda: f.Execute(image)

    return make


def opencv(inputs: Inputs) -> Job:
    import cv2

    image, s = inputs.rgb_u8, inputs.settings
    return lambda: cv2.ximgproc.anisotropicDiffusion(image, 0.1, 255 * s.kappa, s.iterations)

