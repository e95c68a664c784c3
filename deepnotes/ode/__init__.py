"""Generative ODEs (Chapters 4-5): kernels, exact fields, integrators, metrics, toy data.

* :mod:`deepnotes.ode.kernels`: conditional kernels ``p_t(x | x0)`` and their samplers;
* :mod:`deepnotes.ode.fields`: the exact superposed field of a dataset;
* :mod:`deepnotes.ode.integrate`: Euler / Heun / RK4 in (log-)time, with ``log p`` tracking;
* :mod:`deepnotes.ode.metrics`: energy distance, Kolmogorov-Smirnov distances;
* :mod:`deepnotes.ode.data`: 8 Gaussians, two moons, ring;
* :mod:`deepnotes.ode.learned`: an ``x0``-predicting network and its sampler.
"""

from deepnotes.ode import data, fields, integrate, kernels, learned, metrics

__all__ = ["data", "fields", "integrate", "kernels", "learned", "metrics"]
