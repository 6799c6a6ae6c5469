"""Runs MindIR files in MindSpore: mindspore.load + nn.GraphCell, on an input from a .npy file.

Run with a Python that has MindSpore (tests/python/test_mindir_interop.py does, through
$CELLAR_MINDSPORE_PYTHON):
    python mindspore_run_mindir.py MODEL.mindir INPUT.npy OUTPUT.npy
Writes MindSpore's output to OUTPUT.npy and prints one line: the MindSpore version, the graph's
input shape and the output shape. Exits non-zero with MindSpore's message when it refuses the
file (a crash inside MindSpore shows as a signal in the caller).
"""
import sys

import numpy as np


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, input_path, output_path = argv[1:]
    import mindspore as ms
    from mindspore import nn

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    x = np.load(input_path)
    graph = ms.load(model)
    cell = nn.GraphCell(graph)
    y = cell(ms.Tensor(x))
    if isinstance(y, (tuple, list)):
        raise SystemExit(f"{model}: expected one output, MindSpore gave {len(y)}")
    y = y.asnumpy()
    np.save(output_path, y)
    print(f"MindSpore {ms.__version__}: {model} input {tuple(x.shape)} -> output {tuple(y.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
