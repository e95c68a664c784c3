"""Chapter 1: our DeepNorm against the reference implementation, microsoft/torchscale 0.3.0.

Install: ``pip install --no-deps torchscale==0.3.0 fairscale==0.4.0`` (timm is
replaced by a stub inside :func:`deepnotes.reference.torchscale.import_torchscale`
when it is absent).
"""

from __future__ import annotations

import importlib
import math
import sys

import pytest
import torch

from deepnotes.reference import torchscale as ref

# torchscale and fairscale are pinned in requirements.txt: a missing package is a failure, not a skip.
importlib.import_module("fairscale")
importlib.import_module("torchscale")


@pytest.fixture(scope="module")
def rows():
    return {r["quantity"]: r for r in ref.torchscale_comparison(depth=8, decoder_depth=4)}


def test_alphas_match_paper(rows):
    for key in (
        "encoder alpha (2N)^(1/4)",
        "decoder-only alpha (2M)^(1/4)",
        "enc-dec encoder alpha 0.81(N^4 M)^(1/16)",
        "enc-dec decoder alpha (3M)^(1/4)",
    ):
        assert rows[key]["agree"], rows[key]
    assert rows["encoder alpha (2N)^(1/4)"]["torchscale"] == pytest.approx(2.0, abs=1e-12)
    assert rows["enc-dec encoder alpha 0.81(N^4 M)^(1/16)"]["torchscale"] == pytest.approx(
        1.48555, abs=1e-5
    )
    assert rows["enc-dec decoder alpha (3M)^(1/4)"]["torchscale"] == pytest.approx(
        1.86121, abs=1e-5
    )


def test_effective_beta_matches(rows):
    for key in (
        "encoder beta via v_proj",
        "encoder beta via fc2",
        "q_proj scale (unscaled = 1)",
        "decoder-only beta via v_proj",
        "enc-dec decoder beta (12M)^(-1/4)",
    ):
        assert rows[key]["agree"], rows[key]


def test_known_departures_from_paper(rows):
    # encoder-decoder encoder beta: 1.15 (N^4 M)^(-1/16) in torchscale, 0.87 (...) in the paper
    r = rows["enc-dec encoder beta 0.87(N^4 M)^(-1/16)"]
    assert not r["agree"]
    assert r["torchscale"] == pytest.approx(1.15 * (8**4 * 4) ** (-1 / 16), rel=0.05)
    # default init then divide: 1/sqrt(3) of xavier_normal_(gain=beta) for a d x d matrix
    r = rows["v_proj weight std"]
    assert r["torchscale"] / r["ours"] == pytest.approx(1 / math.sqrt(3), rel=0.05)
    assert rows["|v_proj bias| max"]["torchscale"] > 0


def test_layer_output_equals_our_blocks(rows):
    r = rows["EncoderLayer output, max |ours - torchscale|"]
    assert r["agree"] and r["ours"] < 1e-5


def test_torchscale_layer_is_not_labml_variant():
    ts = ref.import_torchscale()
    torch.manual_seed(0)
    cfg = ts.EncoderConfig(
        deepnorm=True,
        encoder_layers=8,
        encoder_embed_dim=32,
        encoder_ffn_embed_dim=128,
        encoder_attention_heads=4,
        activation_fn="relu",
    )
    layer = ts.Encoder(cfg).layers[0].eval()
    x = torch.randn(2, 5, 32)
    with torch.no_grad():
        out, _ = layer(x, encoder_padding_mask=None)
        a, _ = layer.self_attn(query=x, key=x, value=x)
        h_wrong = layer.self_attn_layer_norm(x + layer.alpha * a)
        wrong = layer.final_layer_norm(h_wrong + layer.alpha * layer.ffn(h_wrong))
    assert float((out - wrong).abs().max()) > 0.1


def test_stub_removed_after_import():
    ref.import_torchscale()
    assert "timm.models.layers" not in sys.modules or hasattr(
        sys.modules["timm.models.layers"], "__file__"
    )


# ---------------------------------------------------------------------------
# torchscale missing (Colab: timm installed, torchscale not)
# ---------------------------------------------------------------------------

FAKE_TIMM = {
    "timm/__init__.py": "",
    "timm/models/__init__.py": "",
    "timm/models/layers/__init__.py": "def drop_path(x, drop_prob=0.0, training=False):\n"
    "    return x\n",
}


@pytest.fixture
def colab_like(tmp_path, monkeypatch):
    """A real (fake) ``timm`` package on ``sys.path``, torchscale and fairscale hidden."""
    for rel, text in FAKE_TIMM.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    before = set(sys.modules)
    for name in list(sys.modules):
        if name.split(".")[0] in ("torchscale", "fairscale", "timm"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torchscale", None)  # import torchscale -> ImportError
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DEEPNOTES_BUILD", raising=False)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] == "timm":
            del sys.modules[name]


def test_missing_torchscale_with_timm_raises_import_error(colab_like):
    # The old stub yielded inside ``try: import timm``: the ImportError was thrown into the
    # generator and became ``RuntimeError: generator didn't stop after throw()``.
    import timm.models.layers

    assert hasattr(timm.models.layers, "__file__")  # the fake package, not the stub
    with pytest.raises(ImportError, match="torchscale") as info:
        ref.import_torchscale()
    assert ref.INSTALL in str(info.value)
    with pytest.raises(ImportError, match="torchscale"):
        ref.torchscale_comparison(depth=8, decoder_depth=4)


def test_notebook_path_prints_one_line_without_torchscale(colab_like, capsys):
    assert ref.comparison_if_installed(depth=8, decoder_depth=4) is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Not run: the torchscale cross-check")
    assert ref.INSTALL in lines[0]


def test_book_build_fails_without_torchscale(colab_like, monkeypatch):
    monkeypatch.setenv("DEEPNOTES_BUILD", "1")
    with pytest.raises(ImportError, match="book build"):
        ref.comparison_if_installed(depth=8, decoder_depth=4)


def test_only_the_reference_package_imports_torchscale():
    import ast
    from pathlib import Path

    import deepnotes

    root = Path(deepnotes.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.parent.name == "reference":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("torchscale", "fairscale", "timm") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert not offenders, offenders
