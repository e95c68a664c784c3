"""Unit tests of the deepnotes core: seeding, threads, device, slope fits, training loop, glue."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.train import train


def test_seed_all_is_reproducible():
    dn.seed_all(123)
    a = (torch.randn(3), np.random.rand(3))
    dn.seed_all(123)
    b = (torch.randn(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    g1, g2 = dn.seed_all(7), dn.seed_all(7)
    assert torch.equal(torch.randn(4, generator=g1), torch.randn(4, generator=g2))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True])
def test_seed_all_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        dn.seed_all(bad)


def test_set_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert dn.set_threads(1) == 1
        monkeypatch.setenv("DEEPNOTES_THREADS", "1")
        assert dn.set_threads() == 1
        monkeypatch.delenv("DEEPNOTES_THREADS")
        assert dn.set_threads() == dn.DEFAULT_THREADS
        for bad in (0, -2, 2.0, 10_000):
            with pytest.raises(ValueError, match="n"):
                dn.set_threads(bad)
    finally:
        torch.set_num_threads(before)


def test_get_device():
    assert dn.get_device("cpu") == torch.device("cpu")
    assert dn.get_device() in (torch.device("cpu"), torch.device("cuda"))
    with pytest.raises(ValueError, match="prefer"):
        dn.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            dn.get_device("cuda")


def test_loglog_slope_recovers_exponent():
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 1000, 12)
    y = 3.0 * x**0.75 * np.exp(rng.normal(0, 0.05, x.size))
    fit = dn.loglog_slope(x, y)
    assert abs(fit.slope - 0.75) < 0.03
    assert fit.covers(0.75) and not fit.covers(1.0)
    assert fit.ci_low < fit.slope < fit.ci_high and fit.n == 12 and fit.r2 > 0.99
    np.testing.assert_allclose(fit.predict(x), np.exp(fit.intercept) * x**fit.slope)


def test_loglog_slope_exact_power_law_has_zero_width():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = dn.loglog_slope(x, 5 * x**-1)
    assert fit.slope == pytest.approx(-1.0) and fit.ci_high - fit.ci_low == pytest.approx(
        0.0, abs=1e-9
    )


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([1, 2, 3], [1, 2], "same length"),
        ([1, 2], [1, 2], "at least 3"),
        ([1, 2, -3], [1, 2, 3], "x must be positive"),
        ([1, 2, 3], [1, 0, 3], "y must be positive"),
        ([1, 2, np.nan], [1, 2, 3], "x must be finite"),
        ([2, 2, 2], [1, 2, 3], "distinct"),
        ([[1, 2, 3]], [1, 2, 3], "one-dimensional"),
    ],
)
def test_loglog_slope_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        dn.loglog_slope(x, y)


def test_loglog_slope_bad_confidence():
    with pytest.raises(ValueError, match="confidence"):
        dn.loglog_slope([1, 2, 3], [1, 2, 3], confidence=1.5)


def _regression_batches(gen):
    w = torch.tensor([[2.0], [-1.0]])
    while True:
        x = torch.randn(32, 2, generator=gen)
        yield x, x @ w


def test_train_reduces_loss_and_records_history():
    gen = dn.seed_all(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []

    def loss_fn(m, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(m(x), y)

    def callback(step, m):
        seen.append(step)
        return {"grad_norm": float(m.weight.grad.norm())}

    hist = train(
        model, opt, loss_fn, _regression_batches(gen), 50, callback=callback, progress=False
    )
    assert hist["step"] == list(range(50)) and seen == hist["step"]
    assert hist["loss"][-1] < 1e-2 * hist["loss"][0]
    assert len(hist["grad_norm"]) == 50 and hist["lr"] == [0.1] * 50


def test_train_stops_on_divergence():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    batches = iter([torch.tensor(1.0), torch.tensor(float("nan")), torch.tensor(1.0)])
    hist = train(model, opt, lambda m, b: m.weight.sum() * b, batches, 3, progress=False)
    assert len(hist["loss"]) == 2 and np.isnan(hist["loss"][-1])


def test_train_bad_input():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        train(model, opt, lambda m, b: b, [], 0)
    with pytest.raises(ValueError, match="model"):
        train("model", opt, lambda m, b: b, [], 1)
    with pytest.raises(ValueError, match="optimizer"):
        train(model, "opt", lambda m, b: b, [], 1)
    with pytest.raises(ValueError, match="no batch"):
        train(model, opt, lambda m, b: b, [], 1, progress=False)


def test_glue_formats_and_validates():
    assert dn.glue("some_value", 0.123456, ".2f") == "0.12"
    with pytest.raises(ValueError, match="name"):
        dn.glue("not a name", 1)


def test_import_has_no_side_effects_and_theory_has_no_torch():
    """Importing prints nothing, and deepnotes.theory never imports torch."""
    code = (
        "import sys, pkgutil, importlib, deepnotes.theory as t\n"
        "assert 'torch' not in sys.modules, 'deepnotes.theory imported torch'\n"
        "for m in pkgutil.iter_modules(t.__path__): importlib.import_module('deepnotes.theory.' + m.name)\n"
        "assert 'torch' not in sys.modules, 'a theory module imported torch'\n"
        "import deepnotes\n"
        "for m in pkgutil.walk_packages(deepnotes.__path__, 'deepnotes.'): importlib.import_module(m.name)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr
