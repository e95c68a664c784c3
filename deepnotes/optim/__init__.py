"""Optimizers and learning-rate schedules (Chapter 3).

* :class:`Amos`: the Amos optimizer, a port of ``jestimator.amos``;
* :mod:`deepnotes.optim.schedules`: Su's inverse-square and inverse-time laws as
  PyTorch LR schedulers, and the AdamW (lr, weight decay) pair they imply.
"""

from deepnotes.optim.amos import (
    AMOS_EPSILON,
    Amos,
    amos_param_groups,
    check_slot_shape,
    linear_slot_shape,
    state_bytes,
)
from deepnotes.optim.schedules import (
    DecayLR,
    adamw_hyperparameters,
    decay_factor,
    half_life_rate,
)

__all__ = [
    "AMOS_EPSILON",
    "Amos",
    "DecayLR",
    "adamw_hyperparameters",
    "amos_param_groups",
    "check_slot_shape",
    "decay_factor",
    "half_life_rate",
    "linear_slot_shape",
    "state_bytes",
]
