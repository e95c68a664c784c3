"""Device-agnostic code: nothing in deepnotes pins the CPU, and the core modules run on ``meta``.

No GPU is lent to CI; PyTorch's ``meta`` device (shapes without data) runs the same code paths and
fails on any tensor created on another device and mixed in, which is what a CUDA run would hit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: The places that may name the CPU: choosing the device (core), and the Performance page
#: (book), which reads the benchmark results' "cpu" field (a processor's name) and "device".
ALLOWED = {"deepnotes/core.py", "deepnotes/book.py"}


def test_no_module_hard_codes_the_cpu():
    found = []
    for path in sorted((ROOT / "deepnotes").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "cpu":
                found.append(f"{rel}:{node.lineno}")
    assert not found, (
        "a device hard-coded as 'cpu' (take it from the inputs or get_device()):\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize("scheme, norm", [("post_ln", None), ("su_adam", None), ("su_adam", "pre")])
def test_chapter1_encoder_runs_on_the_meta_device(scheme, norm):
    from deepnotes import blocks

    with torch.device("meta"):
        model = blocks.DeepNarrowEncoder(4, scheme, norm=norm)
        tokens = torch.zeros(2, 8, dtype=torch.long)
    out = model(tokens)
    assert out.device.type == "meta" and out.shape[0] == 2


def test_chapter2_chains_run_on_the_meta_device():
    from deepnotes import chains

    with torch.device("meta"):
        chain = chains.ResidualChain(16, 4, eps=0.5)
        x = torch.zeros(3, 16)
    assert chain(x).device.type == "meta"


def test_amos_steps_on_the_meta_device():
    from deepnotes.optim import Amos

    with torch.device("meta"):
        p = torch.nn.Parameter(torch.zeros(4, 3))
    opt = Amos([p], lr=0.1, eta=1.0)
    p.grad = torch.zeros_like(p)
    opt.step()
    assert p.device.type == "meta"
