"""The kernel rules of the design notes, checked on the source itself."""

import ast
import pathlib

import fastsoftmax
from fastsoftmax.kernels._config import EXACT_FASTMATH, FASTMATH

PACKAGE = pathlib.Path(fastsoftmax.__file__).parent


def _jit_decorators():
    """Every @njit / @jit decorator call in the package, with its location."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Call):
                        name = getattr(dec.func, "id", getattr(dec.func, "attr", ""))
                    else:
                        name = getattr(dec, "id", getattr(dec, "attr", ""))
                    if name in ("njit", "jit"):
                        yield f"{path.name}:{node.name}", dec


def test_every_kernel_uses_the_shared_options():
    decorators = list(_jit_decorators())
    assert len(decorators) >= 10
    for where, dec in decorators:
        assert isinstance(dec, ast.Call), f"{where}: bare @njit, pass **JIT_OPTIONS"
        source = ast.unparse(dec)
        assert "JIT_OPTIONS" in source, f"{where}: {source} does not use JIT_OPTIONS"
        cache = [k for k in dec.keywords if k.arg == "cache"]
        assert cache and ast.unparse(cache[0].value) == "True", f"{where}: cache=True missing"
        # Only switching fast-math off is allowed locally, never a flag set.
        for keyword in dec.keywords:
            assert keyword.arg != "fastmath", f"{where}: hard-coded fastmath"
        assert "fastmath=True" not in source, where


def test_fastmath_flags_keep_infinities_and_nans():
    assert not {"nnan", "ninf", "fast"} & set(FASTMATH)
    # The elementary functions may not even reassociate (see _config).
    assert set(EXACT_FASTMATH) == {"contract"}
