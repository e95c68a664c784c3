"""The Python standard library's own source files as a byte-level text corpus.

Deterministic (files sorted by name, read as bytes, concatenated in that
order), offline (nothing is downloaded) and identified: the :class:`Corpus`
records the Python version, the files and the SHA-256 of the bytes, because
the standard library differs from one Python release to the next.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

from deepnotes.checks import positive_int, real

__all__ = ["Corpus", "byte_batches", "stdlib_corpus", "stdlib_files"]


@dataclass(frozen=True)
class Corpus:
    """Bytes of a corpus split into training and validation parts, with their provenance."""

    train: torch.Tensor  # uint8 bytes, as int64 token ids 0..255
    valid: torch.Tensor
    files: tuple[str, ...]
    python_version: str
    sha256: str

    @property
    def n_bytes(self) -> int:
        return int(self.train.numel() + self.valid.numel())


def stdlib_files(pattern: str = "*.py", root: str | Path | None = None) -> list[Path]:
    """The top-level files of the standard library matching ``pattern``, sorted by name.

    ``root`` defaults to ``sysconfig.get_paths()["stdlib"]``.  An empty
    selection is an error naming ``pattern``.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"pattern must be a non-empty glob string, got {pattern!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or PathLike) or None, got {type(root).__name__}")
    root = Path(sysconfig.get_paths()["stdlib"] if root is None else root)
    if not root.is_dir():
        raise ValueError(f"root must be a directory, got {str(root)!r}")
    files = sorted(
        (p for p in root.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern)),
        key=lambda p: p.name,
    )
    if not files:
        raise ValueError(f"pattern {pattern!r} selects no file in {root} on this Python")
    return files


def stdlib_corpus(
    max_bytes: int = 1_000_000,
    *,
    pattern: str = "*.py",
    valid_fraction: float = 0.1,
    root: str | Path | None = None,
) -> Corpus:
    """The first ``max_bytes`` of the selected standard-library files, concatenated in name order.

    The last ``valid_fraction`` of the bytes is the validation split (so the
    two splits share no window).  Byte ids are the tokens (vocabulary 256).
    """
    max_bytes = positive_int("max_bytes", max_bytes)
    valid_fraction = real("valid_fraction", valid_fraction, 0.0, 1.0, closed=False)
    chunks, used, total = [], [], 0
    for path in stdlib_files(pattern, root):
        data = path.read_bytes()
        if not data:
            continue
        chunks.append(data[: max_bytes - total])
        used.append(path.name)
        total += len(chunks[-1])
        if total >= max_bytes:
            break
    blob = b"".join(chunks)
    if len(blob) < 2:
        raise ValueError(f"pattern {pattern!r} selects empty files only")
    tokens = torch.frombuffer(bytearray(blob), dtype=torch.uint8).to(torch.int64)
    cut = int(round(len(blob) * (1 - float(valid_fraction))))
    cut = min(max(cut, 1), len(blob) - 1)
    return Corpus(
        train=tokens[:cut],
        valid=tokens[cut:],
        files=tuple(used),
        python_version=platform.python_version(),
        sha256=hashlib.sha256(blob).hexdigest(),
    )


def byte_batches(
    tokens: torch.Tensor, batch: int, length: int, *, generator: torch.Generator | None = None
):
    """An endless iterator of ``(inputs, targets)``: ``batch`` random windows of ``length`` tokens,
    targets shifted by one.  The arguments are checked here, before the first batch is drawn."""
    batch = positive_int("batch", batch)
    length = positive_int("length", length)
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 1:
        raise ValueError("tokens must be a 1-D tensor of token ids")
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must be an integer tensor of token ids, got dtype {tokens.dtype}")
    if tokens.numel() < length + 1:
        raise ValueError(
            f"length = {length} needs at least {length + 1} tokens, got {tokens.numel()}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    return _windows(tokens, batch, length, generator)


def _windows(tokens, batch, length, generator):
    offsets = torch.arange(length + 1)
    while True:
        starts = torch.randint(0, tokens.numel() - length, (batch,), generator=generator)
        windows = tokens[starts[:, None] + offsets]
        yield windows[:, :-1], windows[:, 1:]
