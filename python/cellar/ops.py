"""Functional ops and a few of MindSpore's primitive classes. MindSpore: mindspore.ops.

Every op runs on cellar's C++ op table: eagerly on concrete tensors, recorded into the graph
while ``cellar.export`` traces a construct.
"""
from ._cellar.ops import (  # noqa: F401
    abs,
    add,
    bias_add,
    concat,
    div,
    erf,
    expand_dims,
    flatten,
    gather,
    gelu,
    log_softmax,
    matmul,
    mul,
    rand,
    randn,
    randperm,
    reduce_mean,
    reduce_sum,
    relu,
    reshape,
    sigmoid,
    softmax,
    squeeze,
    sub,
    tanh,
    tile,
    transpose,
)


class Primitive:
    """A MindSpore-style op object: ``ops.Add()(x, y)``."""

    _fn = None

    def __call__(self, *args):
        return type(self)._fn(*args)


class DType(Primitive):
    """``ops.DType()(x)`` is ``x.dtype``. MindSpore: mindspore.ops.DType."""

    def __call__(self, x):
        return x.dtype


def _primitive(name, fn):
    return type(name, (Primitive,), {"_fn": staticmethod(fn),
                                     "__doc__": f"``ops.{name}()(...)``: MindSpore's {name}."})


Add = _primitive("Add", add)
Sub = _primitive("Sub", sub)
Mul = _primitive("Mul", mul)
Div = _primitive("Div", div)
ReLU = _primitive("ReLU", relu)
Sigmoid = _primitive("Sigmoid", sigmoid)
Tanh = _primitive("Tanh", tanh)
Reshape = _primitive("Reshape", reshape)
Flatten = _primitive("Flatten", flatten)
BiasAdd = _primitive("BiasAdd", bias_add)


class MatMul(Primitive):
    """``ops.MatMul(transpose_a=False, transpose_b=False)(a, b)``."""

    def __init__(self, transpose_a=False, transpose_b=False):
        self.transpose_a = transpose_a
        self.transpose_b = transpose_b

    def __call__(self, a, b):
        return matmul(a, b, self.transpose_a, self.transpose_b)


class Softmax(Primitive):
    """``ops.Softmax(axis=-1)(x)``."""

    def __init__(self, axis=-1):
        self.axis = axis

    def __call__(self, x):
        return softmax(x, self.axis)
