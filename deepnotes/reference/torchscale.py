"""Adapter to microsoft/torchscale 0.3.0, DeepNet's reference code (Chapter 1).

torchscale is not a dependency of ``deepnotes``; it is imported lazily here
and nowhere else.  Install it with::

    pip install --no-deps torchscale==0.3.0 fairscale==0.4.0

torchscale imports ``timm`` (and through it torchvision) only for
``timm.models.layers.drop_path``, the identity at ``drop_path_rate=0``.  When
timm is absent a stub stands in for it during the import; when timm is
installed (as in Colab) the real one is used.

* :func:`import_torchscale`: the config, encoder and decoder classes;
* :func:`load_torchscale_layer`: our DeepNorm blocks carrying an
  ``EncoderLayer``'s weights;
* :func:`torchscale_comparison`: the table Chapter 1 shows;
* :func:`comparison_if_installed`: the same, or one line saying what was
  not run (an error during a book build).
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from deepnotes.blocks import Block, scheme_constants
from deepnotes.checks import integral, positive_float, positive_int
from deepnotes.theory import deepnet as theory

__all__ = [
    "INSTALL",
    "comparison_if_installed",
    "import_torchscale",
    "load_torchscale_layer",
    "torchscale_comparison",
]

#: The command that installs the reference package.
INSTALL = "pip install --no-deps torchscale==0.3.0 fairscale==0.4.0"


def _timm_importable() -> bool:
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _timm_stub() -> Iterator[None]:
    """Provide ``timm.models.layers.drop_path`` while torchscale is imported, if timm is absent.

    Whether timm is importable is decided *before* the ``yield``, so an
    ``ImportError`` raised by the body (torchscale missing) propagates
    unchanged.  The stub lives in ``sys.modules`` only inside the block.
    """
    if _timm_importable():
        yield
        return
    names = ("timm", "timm.models", "timm.models.layers")
    saved = {n: sys.modules.get(n) for n in names}

    def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
        if drop_prob > 0 and training:
            raise NotImplementedError("the timm stub supports drop_path_rate=0 only")
        return x

    sys.modules["timm"] = types.ModuleType("timm")
    sys.modules["timm.models"] = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = drop_path
    sys.modules["timm.models.layers"] = layers
    try:
        yield
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def import_torchscale() -> types.SimpleNamespace:
    """torchscale's config, encoder and decoder classes.

    Raises ``ImportError`` naming the missing package (torchscale or
    fairscale) and the install command when it is absent.

    Chapter 1, section "The reference implementation".
    """
    try:
        with _timm_stub():
            from torchscale.architecture.config import (
                DecoderConfig,
                EncoderConfig,
                EncoderDecoderConfig,
            )
            from torchscale.architecture.decoder import Decoder
            from torchscale.architecture.encoder import Encoder
    except ImportError as err:
        missing = getattr(err, "name", None) or "torchscale"
        raise ImportError(
            f"the torchscale cross-check needs the package {missing!r}: {INSTALL}",
            name=missing,
        ) from err
    return types.SimpleNamespace(
        EncoderConfig=EncoderConfig,
        DecoderConfig=DecoderConfig,
        EncoderDecoderConfig=EncoderDecoderConfig,
        Encoder=Encoder,
        Decoder=Decoder,
    )


def load_torchscale_layer(layer: nn.Module, alpha: float) -> tuple[Block, Block]:
    """Our (attention, FFN) DeepNorm block pair carrying a torchscale ``EncoderLayer``'s weights.

    Chapter 1, section "The reference implementation".
    """
    parts = ("embed_dim", "ffn_dim", "self_attn", "ffn", "self_attn_layer_norm", "final_layer_norm")
    if not isinstance(layer, nn.Module) or not all(hasattr(layer, p) for p in parts):
        raise TypeError(
            f"layer must be a torchscale EncoderLayer (encoder.layers[i]), got {type(layer).__name__}"
        )
    positive_float("alpha", alpha)
    d = layer.embed_dim
    heads = layer.self_attn.num_heads
    attn = Block(d, "attn", "post", alpha, heads=heads)
    ffn = Block(d, "ffn", "post", alpha, ffn_mult=layer.ffn_dim // d)
    attn.ln.eps = layer.self_attn_layer_norm.eps
    ffn.ln.eps = layer.final_layer_norm.eps
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            getattr(attn.branch, name).load_state_dict(getattr(layer.self_attn, name).state_dict())
        attn.ln.load_state_dict(layer.self_attn_layer_norm.state_dict())
        ffn.branch.fc1.load_state_dict(layer.ffn.fc1.state_dict())
        ffn.branch.fc2.load_state_dict(layer.ffn.fc2.state_dict())
        ffn.ln.load_state_dict(layer.final_layer_norm.state_dict())
    return attn, ffn


def _models(ts: types.SimpleNamespace, n: int, m: int, d: int, heads: int) -> dict:
    common = dict(activation_fn="relu", dropout=0.0, attention_dropout=0.0)
    enc = dict(encoder_embed_dim=d, encoder_ffn_embed_dim=4 * d, encoder_attention_heads=heads)
    dec = dict(decoder_embed_dim=d, decoder_ffn_embed_dim=4 * d, decoder_attention_heads=heads)
    ed_cfg = ts.EncoderDecoderConfig(
        deepnorm=True, encoder_layers=n, decoder_layers=m, **enc, **dec, **common
    )
    return {
        "enc": ts.Encoder(ts.EncoderConfig(deepnorm=True, encoder_layers=n, **enc, **common)),
        "dec": ts.Decoder(ts.DecoderConfig(deepnorm=True, decoder_layers=m, **dec, **common)),
        "ed_enc": ts.Encoder(ed_cfg, is_encoder_decoder=True),
        "ed_dec": ts.Decoder(ed_cfg, is_encoder_decoder=True),
    }


def _beta_eff(w: torch.Tensor) -> float:
    """A weight's std relative to ``nn.Linear``'s default init ``U(+-1/sqrt(fan_in))``."""
    return float(w.detach().std() * math.sqrt(3 * w.shape[1]))


def torchscale_comparison(
    depth: int = 8, decoder_depth: int = 4, d: int = 64, heads: int = 4, seed: int = 0
) -> list[dict[str, object]]:
    """Compare our DeepNorm with torchscale 0.3.0 (``deepnorm=True``) and the paper.

    Rows: the skip weight ``alpha`` (encoder-only, decoder-only, encoder-decoder),
    the effective value-path scale ``beta`` (torchscale divides PyTorch's
    default init, std ``1/sqrt(3 fan_in)``, by ``init_scale``; we measure
    ``std * sqrt(3 fan_in)``), q/k left unscaled, biases, the absolute weight
    std against the paper's ``xavier_normal_(gain=beta)``, and the output of one
    of our block pairs loaded with an ``EncoderLayer``'s weights.  Each row has
    ``quantity``, ``ours``, ``torchscale``, ``paper``, ``agree`` (whether ours,
    i.e. the paper's formula, matches torchscale) and a short ``note``.  The
    paper's values come from :func:`deepnotes.theory.deepnet.paper_constants`.

    Chapter 1, section "The reference implementation".
    """
    n = positive_int("depth", depth)
    m = positive_int("decoder_depth", decoder_depth)
    d, heads = positive_int("d", d), positive_int("heads", heads)
    if d % heads:
        raise ValueError(f"heads must divide d, got d={d}, heads={heads}")
    if integral("seed", seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ts = import_torchscale()
    torch.manual_seed(seed)
    mods = _models(ts, n, m, d, heads)
    ours_alpha, ours_beta, _ = scheme_constants("deepnorm_paper", n)
    sub = {theory.N: n, theory.M: m}
    dec_p = {k: float(v.subs(sub)) for k, v in theory.paper_constants("decoder").items()}
    ed_p = {k: float(v.subs(sub)) for k, v in theory.paper_constants("encoder_decoder").items()}
    layer = mods["enc"].layers[0]
    att = layer.self_attn
    v_of = {k: mods[k].layers[0].self_attn.v_proj.weight for k in ("dec", "ed_enc", "ed_dec")}
    rows: list[dict[str, object]] = []

    def row(quantity, ours, theirs, tol, note=""):
        agree = bool(abs(ours - theirs) <= tol * abs(theirs))
        rows.append(
            dict(
                quantity=quantity, ours=ours, torchscale=theirs, paper=ours, agree=agree, note=note
            )
        )

    row("encoder alpha (2N)^(1/4)", ours_alpha, layer.alpha, 1e-12)
    row("encoder beta via v_proj", ours_beta, _beta_eff(att.v_proj.weight), 0.05)
    row("encoder beta via fc2", ours_beta, _beta_eff(layer.ffn.fc2.weight), 0.05)
    row("q_proj scale (unscaled = 1)", 1.0, _beta_eff(att.q_proj.weight), 0.05)
    row("decoder-only alpha (2M)^(1/4)", dec_p["alpha"], mods["dec"].layers[0].alpha, 1e-12)
    row("decoder-only beta via v_proj", dec_p["beta"], _beta_eff(v_of["dec"]), 0.05)
    a_ed, a_dd = ed_p["alpha_encoder"], ed_p["alpha_decoder"]
    row("enc-dec encoder alpha 0.81(N^4 M)^(1/16)", a_ed, mods["ed_enc"].layers[0].alpha, 1e-12)
    row("enc-dec decoder alpha (3M)^(1/4)", a_dd, mods["ed_dec"].layers[0].alpha, 1e-12)
    row(
        "enc-dec encoder beta 0.87(N^4 M)^(-1/16)",
        ed_p["beta_encoder"],
        _beta_eff(v_of["ed_enc"]),
        0.05,
        "1.15 in place of 0.87",
    )
    row("enc-dec decoder beta (12M)^(-1/4)", ed_p["beta_decoder"], _beta_eff(v_of["ed_dec"]), 0.05)
    xavier_vd = ours_beta * math.sqrt(2.0 / (2 * d))
    row(
        "v_proj weight std",
        xavier_vd,
        float(att.v_proj.weight.detach().std()),
        0.05,
        "default init / beta^-1",
    )
    row("|v_proj bias| max", 0.0, float(att.v_proj.bias.detach().abs().max()), 0.0, "biases scaled")
    # The layer itself: load its weights into our blocks and compare outputs.
    attn_block, ffn_block = load_torchscale_layer(layer, layer.alpha)
    layer.eval()
    x = torch.randn(2, 8, d, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        theirs, _ = layer(x, encoder_padding_mask=None)
        ours = ffn_block(attn_block(x))
    diff = float((ours - theirs).abs().max())
    rows.append(
        dict(
            quantity="EncoderLayer output, max |ours - torchscale|",
            ours=diff,
            torchscale=0.0,
            paper=None,
            agree=bool(diff < 1e-5),
            note="same weights",
        )
    )
    return rows


def comparison_if_installed(**kwargs) -> list[dict[str, object]] | None:
    """:func:`torchscale_comparison`, or ``None`` with one printed line when torchscale is missing.

    During a book build (:func:`deepnotes.notebook.in_book_build`) a missing
    package is an error instead: the built book must show the check.

    Chapter 1, section "The reference implementation".
    """
    from deepnotes.notebook import in_book_build

    try:
        return torchscale_comparison(**kwargs)
    except ImportError as err:
        if in_book_build():
            raise ImportError(f"the book build runs the torchscale cross-check: {err}") from err
        print(f"Not run: the torchscale cross-check ({err}).")
        return None
