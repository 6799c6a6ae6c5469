"""The package's stubs and docstrings stay complete: editors complete from cellar/_cellar.pyi, and
every public name says which MindSpore API it stands for."""
import ast
from pathlib import Path

import cellar
from cellar import _cellar, nn

STUB = Path(cellar.__file__).resolve().parent / "_cellar.pyi"


def test_the_stub_declares_every_public_name_of_the_module():
    tree = ast.parse(STUB.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    declared |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign)
                 for t in [n.target] if isinstance(t, ast.Name)}
    public = {n for n in dir(_cellar) if not n.startswith("_") and n != "ops"}
    assert public - declared == set()


def test_public_api_names_its_mindspore_counterpart():
    names = ["Tensor", "Parameter", "save_checkpoint", "load_checkpoint", "load_param_into_net",
             "export", "load", "set_context", "get_context", "set_seed", "safe_open",
             "ckpt_to_safetensors", "safetensors_to_ckpt"]
    missing = [n for n in names if "MindSpore" not in (getattr(cellar, n).__doc__ or "")]
    missing += [f"nn.{n}" for n in ["Cell", "SequentialCell", "Flatten", "Dense", "ReLU",
                                    "GraphCell"]
                if "MindSpore" not in (getattr(nn, n).__doc__ or "")]
    assert missing == []


# --- the stubs of cellar.ops and cellar.mint, and argument names against the bindings --------

PKG = STUB.parent


def _stub(name):
    tree = ast.parse((PKG / name).read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return funcs, classes


def _stub_args(fn):
    a = fn.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]


def _split_top_level(text):
    parts, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    return parts + ([cur] if cur.strip() else [])


def _bound_args(f):
    """Named parameters of a function: from inspect for Python ones, else from the signature
    line pybind11 writes at the top of the docstring (name(a: T, b: T = v) -> R)."""
    import inspect
    try:
        sig = inspect.signature(f)
        return [p.name for p in sig.parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        pass
    first = f.__doc__.splitlines()[0]
    inner = first[first.index("(") + 1:first.rindex(") ->")]
    names = [p.split(":")[0].split("=")[0].strip() for p in _split_top_level(inner)]
    return [n for n in names if n and not n.startswith("*")]


def _public(module):
    import types
    return {n for n, v in vars(module).items()
            if not n.startswith("_") and not isinstance(v, types.ModuleType)
            and getattr(v, "__module__", module.__name__) != "typing"}


def test_ops_and_mint_stubs_declare_every_public_name_with_the_bound_arguments():
    from cellar import mint, ops
    for module, stub in ((ops, "ops.pyi"), (mint, "mint.pyi")):
        funcs, classes = _stub(stub)
        public = _public(module) - {"annotations"}
        assert public - set(funcs) - classes == set(), stub
        for name in public & set(funcs):
            assert _stub_args(funcs[name]) == _bound_args(getattr(module, name)), \
                f"{stub}: {name}"


def test_module_function_stubs_have_the_bound_arguments():
    funcs, _ = _stub("_cellar.pyi")
    for name, fn in funcs.items():
        if name.startswith("_"):
            continue
        assert _stub_args(fn) == _bound_args(getattr(_cellar, name)), name


def test_nn_names_are_declared():
    funcs, classes = _stub("_cellar.pyi")
    python_defined = {"CellList"}  # nn.py itself (no stub needed: editors read the source)
    assert set(nn.__all__) - classes - python_defined == set()
    assert all(hasattr(nn, n) for n in nn.__all__)
