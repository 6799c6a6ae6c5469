"""torch's side of bench/pytorch_bench.cpp: writes DIR/model.pt (zip) and DIR/model_legacy.pt
(_use_new_zipfile_serialization=False), a float32 state dict of --size-mib MiB in tensors of
mixed sizes (the sizes bench/checkpoint_bench.cpp uses, read from DIR/spec.txt), then times
torch.load on them. Prints `RESULT <kind>@<file> <median seconds> <what>` lines, or
`SKIP torch: <reason>` when this interpreter has no torch.

Needs the heavy peer: python3 -m venv /opt/torch && /opt/torch/bin/pip install torch numpy
"""
import argparse
import os

from peers import median_time  # bench/ is on sys.path: this script runs from there

MIN_MMAP_REPEATS = 20


def touch(state):
    s = 0
    for t in state.values():
        b = t.reshape(-1).view(-1).numpy().view("uint8")
        s += int(b[::4096].sum())
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"SKIP torch: {e}")
        return
    sizes = [int(x) for x in open(os.path.join(args.dir, "spec.txt")).read().split()]
    state = {}
    for i, n in enumerate(sizes):
        k = torch.arange(n, dtype=torch.int64)
        state[f"layer{i // 4}.param{i % 4}"] = (((k * 2654435761 + i) % 1000) / 997.0).float()
    zip_path = os.path.join(args.dir, "model.pt")
    legacy_path = os.path.join(args.dir, "model_legacy.pt")
    torch.save(state, zip_path)
    torch.save(state, legacy_path, _use_new_zipfile_serialization=False)
    print(f"VERSION torch {torch.__version__}")
    r = args.repeats
    for name, path in (("pt", zip_path), ("legacy", legacy_path)):
        print(f"RESULT load_copy@{name}", median_time(r, lambda: torch.load(path, weights_only=True)),
              "torch.load(weights_only=True)")
        print(f"RESULT load_copy_touch@{name}",
              median_time(r, lambda: touch(torch.load(path, weights_only=True))),
              "torch.load(weights_only=True) + touch")
        if name == "pt":
            print(f"RESULT load_mmap@{name}",
                  median_time(max(r, MIN_MMAP_REPEATS), lambda: torch.load(path, mmap=True, weights_only=True)),
                  "torch.load(mmap=True, weights_only=True)")
            print(f"RESULT load_mmap_touch@{name}",
                  median_time(r, lambda: touch(torch.load(path, mmap=True, weights_only=True))),
                  "torch.load(mmap=True, weights_only=True) + touch")


if __name__ == "__main__":
    main()
