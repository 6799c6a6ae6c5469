"""What calling a GraphCell from Python costs over calling it from C++ (issue 14: ≤ 5 µs).

    .venv/bin/python bench/python_boundary.py [--build build] [--calls 2000] [--rounds 7]

Two graphs, both exported by cellar's Python package: the "Save and Load" tutorial's MLP
(Flatten, Dense 784→512, ReLU, Dense 512→512, ReLU, Dense 512→10, input ones(1, 1, 28, 28)), and
a one-op ReLU over (1, 10), where the run itself is nearly free and the boundary is all there is.
For each, `rounds` alternating rounds of `calls` calls of the same GraphCell: C++ in this process
(GraphCell._time_calls: cell.construct({x}) in a C++ loop) and Python (cell(x) on a
cellar.Tensor); and, for reference, C++ in a process of its own (build/bench/graphcell_call_bench
over the same file). Prints the medians over the rounds' medians; the boundary is Python minus C++
in the same process.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.build, "python"))
    import numpy as np

    import cellar
    from cellar import Tensor, nn

    class Relu(nn.Cell):
        def construct(self, x):
            return cellar.ops.relu(x)

    mlp = nn.SequentialCell(nn.Flatten(), nn.Dense(28 * 28, 512), nn.ReLU(), nn.Dense(512, 512),
                            nn.ReLU(), nn.Dense(512, 10))
    nets = {"tutorial MLP (1, 1, 28, 28)": (mlp, Tensor(np.ones([1, 1, 28, 28], np.float32))),
            "ReLU (1, 10)": (Relu(), Tensor(np.ones([1, 10], np.float32)))}
    tool = os.path.join(args.build, "bench", "graphcell_call_bench")
    print(f"{'graph':30} {'C++ own process':>16} {'C++ this process':>17} {'Python':>9} "
          f"{'Python - C++ (same process)':>28}   (medians, us)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (net, x) in nets.items():
            path = cellar.export(net, x, file_name=os.path.join(tmp, "net"), file_format="MINDIR")
            cell = nn.GraphCell(cellar.load(path))
            for _ in range(20):
                cell(x)
            own, cpp, py = [], [], []
            for _ in range(args.rounds):
                out = subprocess.run([tool, str(path), str(args.calls)], capture_output=True,
                                     text=True, check=True).stdout
                own.append(json.loads(out)["median_ns"] / 1000)
                cpp.append(cell._time_calls(x, args.calls) / 1000)
                times = []
                for _ in range(args.calls):
                    t0 = time.perf_counter_ns()
                    cell(x)
                    times.append(time.perf_counter_ns() - t0)
                py.append(statistics.median(times) / 1000)
            o, c, p = statistics.median(own), statistics.median(cpp), statistics.median(py)
            print(f"{name:30} {o:16.2f} {c:17.2f} {p:9.2f} {p - c:28.2f}")


if __name__ == "__main__":
    main()
