"""The public API is listed in one place per module (``__all__``), and the bad-input specs
(``tests/test_bad_input_*.py``, see ``tests/badinput.py``) cover every callable in it."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

import pytest

import deepnotes

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    names = ["deepnotes"]
    for info in pkgutil.walk_packages(deepnotes.__path__, "deepnotes."):
        names.append(info.name)
    return sorted(names)


def canonical(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


def spec_files():
    files = sorted(HERE.glob("test_bad_input_*.py"))
    loaded = []
    for path in files:
        spec = importlib.util.spec_from_file_location(f"_specs_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
    return loaded


@pytest.mark.parametrize("name", modules())
def test_module_lists_its_public_api(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__: list its public names there"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what the module lacks: {missing}"


def takes_input(obj) -> bool:
    """False for a callable with no parameters: it has no input a reader could get wrong."""
    try:
        return bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return True


def public_callables() -> dict[str, str]:
    """canonical name -> the first ``module.name`` that exports it (callables with parameters)."""
    found: dict[str, str] = {}
    for name in modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr, None)
            if callable(obj) and hasattr(obj, "__qualname__") and takes_input(obj):
                found.setdefault(canonical(obj), f"{name}.{attr}")
    return found


def test_specs_cover_every_public_callable():
    covered, exempt = set(), {}
    for module in spec_files():
        for spec in module.SPECS:
            obj = resolve(spec.covers)
            covered.add(canonical(obj))
            owner = spec.covers.rpartition(".")[0]
            if owner.rpartition(".")[2][:1].isupper():  # a method spec covers its class too
                covered.add(canonical(resolve(owner)))
        for dotted, reason in getattr(module, "EXEMPT", {}).items():
            assert reason.strip(), f"exemption of {dotted} gives no reason"
            exempt[canonical(resolve(dotted))] = reason
    missing = sorted(
        exported
        for canon, exported in public_callables().items()
        if canon not in covered and canon not in exempt
    )
    assert not missing, (
        f"{len(missing)} public callables have no bad-input spec (or exemption): {missing}"
    )
