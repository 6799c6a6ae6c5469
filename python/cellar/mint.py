"""PyTorch-style functional API. MindSpore: mindspore.mint.

The random functions draw from cellar's generator (``cellar.set_seed``). They run eagerly; inside
``cellar.export`` they are refused (a graph with random numbers does not reproduce its outputs),
as MindSpore's MindIR export refuses them.
"""
from ._cellar.ops import add, div, matmul, mul, rand, randn, randperm, relu, sigmoid, sub, tanh
from ._cellar.ops import softmax as _softmax


def softmax(input, dim=-1):  # noqa: A002  (PyTorch's argument name)
    """Softmax over ``dim``."""
    return _softmax(input, dim)


__all__ = ["add", "sub", "mul", "div", "matmul", "relu", "sigmoid", "tanh", "softmax", "rand",
           "randn", "randperm"]
