#!/usr/bin/env python3
"""Exports mindcv's models to MindIR with MindSpore, with a seeded input and MindSpore's output.

A heavy peer, never needed by ./dev test. Set up once (on a machine of this kind, ~2 GB):

    python3 -m venv /opt/ms && /opt/ms/bin/pip install mindspore==2.10.0 mindcv==0.3.0 onnx onnxruntime
    /opt/ms/bin/pip install "numpy<2"

(NumPy 1.x: MindSpore 2.10's pyboost extension is built against NumPy 1.x, and under NumPy 2 its
`zeros` and tensor `__mul__` fail while mindcv builds CaiT, CMT, CoaT, ConViT, ConvNeXt V2,
EdgeNeXt, PVT and Visformer: "SystemError: <built-in method pyboost_zeros ...> returned a result
with an exception set". Where the venv must keep NumPy 2 for other tools, an overlay does the
same: `/opt/ms/bin/pip install --target /work/np1 "numpy<2"` and PYTHONPATH=/work/np1.)

then, from the repository root:

    /opt/ms/bin/python tools/zoo/export_mindcv.py --zoo /work/zoo            # smallest model per family
    /opt/ms/bin/python tools/zoo/export_mindcv.py --zoo /work/zoo --all      # every registered model
    /opt/ms/bin/python tools/zoo/export_mindcv.py --zoo /work/zoo --models resnet18 vit_b_32_224
    /opt/ms/bin/python tools/zoo/export_mindcv.py --zoo /work/zoo --models vit_b_32_224 --batch 8

For each model, ZOO/<model>/ gets <model>.mindir, input.npy (seeded standard normal, (1, 3, H, W)
float32, H from the model's pretrained config, else 224), output.npy (what MindSpore's own
`nn.GraphCell` over `mindspore.load(<model>.mindir)` computes on it) and meta.json (family,
parameter count, input shape, what failed and its message, timings). With --batch N (N > 1) the
folder is ZOO/<model>_b<N>/ and the input (N, 3, H, W): MindSpore writes most models' shapes into
the graph (a Reshape's target, a position embedding's batch), so another batch needs its own export. Each model runs in a fresh
subprocess with a time limit, so one that hangs or crashes MindSpore costs only its own row.

Which model is a family's smallest is decided by building every model of the family (random
weights, num_classes=10) and counting parameters; the choice is cached in ZOO/families.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

NUM_CLASSES = 10
SEED = 0


def quiet_mindspore():
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ side: errors only
    import warnings

    warnings.filterwarnings("ignore")


def input_hw(name, net=None):
    """The model's input side: its pretrained config's input_size, else the image size the built
    network was made for (Swin V2 has no config and is built for 256), else 224."""
    from mindcv.models import registry

    cfg = registry._model_pretrained_cfgs.get(name, {})
    size = cfg.get("input_size")
    if size and len(size) == 3:
        return int(size[1]), int(size[2])
    cells = [net] + [c for _, c in net.cells_and_names()] if net is not None else []
    for cell in cells:  # the network's own, else its first sub-cell's (Swin V2: patch_embed)
        for attr in ("image_size", "img_size"):
            v = getattr(cell, attr, None)
            if isinstance(v, int) and v > 0:
                return v, v
            if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(e, int) and e > 0 for e in v):
                return int(v[0]), int(v[1])
    return 224, 224


def count_params(family):
    """Prints [params or None, model] for every model of the family as it is built, one JSON
    line each, so a parent that times out still keeps the models counted so far."""
    import gc

    from mindspore.common import initializer

    # Only the shapes count here: filling every weight with random numbers (seconds per model,
    # minutes per family for ViT-H and friends) is skipped, the arrays stay as allocated.
    initializer.Initializer.__call__ = lambda self, arr: None
    import mindcv
    from mindcv.models import registry

    for model in sorted(registry._module_to_models[family]):
        try:
            net = mindcv.create_model(model, pretrained=False, num_classes=NUM_CLASSES)
            row = [int(sum(p.size for p in net.get_parameters())), model]
            del net
        except Exception:  # noqa: BLE001 - a model mindcv cannot build is recorded as such
            row = [None, model]
        print(json.dumps(row), flush=True)
        gc.collect()


def families(zoo, timeout=900):
    """{family: [[params, model], ...]} for every registered module, cached in ZOO/families.json.
    One process per family builds its models (random weights) and counts their parameters; a
    family that takes longer than `timeout` keeps the models counted by then (the rest are
    recorded as not built). Progress is kept family by family in ZOO/families.partial.json."""
    path = os.path.join(zoo, "families.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    from mindcv.models import registry

    partial = os.path.join(zoo, "families.partial.json")
    out = {}
    if os.path.exists(partial):
        with open(partial) as f:
            out = json.load(f)
    for module in sorted(registry.list_modules()):
        if module in out:
            continue
        try:
            r = subprocess.run([sys.executable, __file__, "--count-params", module],
                               capture_output=True, text=True, timeout=timeout)
            text = r.stdout
        except subprocess.TimeoutExpired as e:
            text = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        counted = {}
        for line in text.splitlines():
            if line.startswith("["):
                n, m = json.loads(line)
                counted[m] = n
        rows = [[counted.get(m), m] for m in sorted(registry._module_to_models[module])]
        print(f"  {module}: " + ", ".join(f"{m} {n}" for n, m in rows), flush=True)
        out[module] = rows
        with open(partial + ".tmp", "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        os.replace(partial + ".tmp", partial)
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    return out


def smallest(fams):
    """[(family, model, params)] with the smallest built model of each family, smallest first (so a
    run that is stopped early has covered the most families)."""
    picks = []
    for family, rows in sorted(fams.items()):
        built = sorted((n, m) for n, m in rows if n is not None)
        if built:
            picks.append((family, built[0][1], built[0][0]))
        elif rows:
            picks.append((family, rows[0][1], None))
    return sorted(picks, key=lambda p: (p[2] is None, p[2] or 0, p[0]))


def export_one(zoo, family, name, runs, batch=1):
    """Runs in its own process: export, MindSpore's GraphCell output, meta.json."""
    quiet_mindspore()
    import numpy as np
    import mindspore as ms
    import mindcv

    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
    ms.set_seed(SEED)
    out_dir = os.path.join(zoo, name if batch == 1 else f"{name}_b{batch}")
    os.makedirs(out_dir, exist_ok=True)
    meta = {"family": family, "model": name, "mindspore": ms.__version__,
            "mindcv": mindcv.__version__, "exported": False, "ran": False}

    def save_meta():
        with open(os.path.join(out_dir, "meta.json.tmp"), "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        os.replace(os.path.join(out_dir, "meta.json.tmp"), os.path.join(out_dir, "meta.json"))

    try:
        net = mindcv.create_model(name, pretrained=False, num_classes=NUM_CLASSES)
        net.set_train(False)
        meta["params"] = int(sum(p.size for p in net.get_parameters()))
        h, w = input_hw(name, net)
        meta["input_shape"] = [batch, 3, h, w]
        x = np.random.default_rng(SEED).standard_normal((batch, 3, h, w)).astype(np.float32)
        np.save(os.path.join(out_dir, "input.npy"), x)
        t = time.perf_counter()
        ms.export(net, ms.Tensor(x), file_name=os.path.join(out_dir, name), file_format="MINDIR")
        meta["export_s"] = round(time.perf_counter() - t, 2)
        meta["exported"] = True
        meta["mindir_bytes"] = os.path.getsize(os.path.join(out_dir, name + ".mindir"))
    except Exception as e:  # noqa: BLE001 - the message is the record
        meta["export_error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
        save_meta()
        return
    save_meta()
    try:
        graph = ms.load(os.path.join(out_dir, name + ".mindir"))
        cell = ms.nn.GraphCell(graph)
        y = cell(ms.Tensor(x))
        if isinstance(y, (tuple, list)):
            y = y[0]
        y = y.asnumpy()
        np.save(os.path.join(out_dir, "output.npy"), y)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            cell(ms.Tensor(x))
            times.append(time.perf_counter() - t)
        meta["ran"] = True
        meta["output_shape"] = list(y.shape)
        meta["mindspore_us"] = round(sorted(times)[len(times) // 2] * 1e6) if times else None
    except Exception as e:  # noqa: BLE001
        meta["run_error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
    save_meta()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default="/work/zoo", help="output folder (default /work/zoo)")
    p.add_argument("--all", action="store_true", help="every registered model, not the smallest per family")
    p.add_argument("--models", nargs="*", help="only these models")
    p.add_argument("--force", action="store_true", help="export again models that have a meta.json")
    p.add_argument("--runs", type=int, default=3, help="timed MindSpore GraphCell runs (median kept)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per model")
    p.add_argument("--fallback", type=int, default=2,
                   help="when MindSpore cannot export a family's smallest model, try up to this many "
                        "of the next smallest (each failure stays on record)")
    p.add_argument("--batch", type=int, default=1,
                   help="export at this batch, into ZOO/<model>_b<N>/ when N > 1 (default 1)")
    p.add_argument("--count-params", help=argparse.SUPPRESS)
    p.add_argument("--one", nargs=2, metavar=("FAMILY", "MODEL"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.count_params:
        quiet_mindspore()
        count_params(a.count_params)
        return
    if a.one:
        export_one(a.zoo, a.one[0], a.one[1], a.runs, a.batch)
        return
    os.makedirs(a.zoo, exist_ok=True)
    quiet_mindspore()
    from mindcv.models import registry

    if a.models:
        fam_of = {m: f for f in registry.list_modules() for m in registry._module_to_models[f]}
        groups = [(fam_of.get(m, "?"), [m]) for m in a.models]
    elif a.all:
        groups = [(f, [m]) for f in sorted(registry.list_modules()) for m in sorted(registry._module_to_models[f])]
    else:  # the smallest of each family; the next ones only while MindSpore cannot export those
        fams = families(a.zoo)
        groups = [(f, [m for n, m in sorted((n, m) for n, m in fams[f] if n is not None)][:1 + a.fallback] or [m])
                  for f, m, _ in smallest(fams)]
    for family, models in groups:
        for model in models:
            if export_model(a, family, model).get("exported"):
                break


def export_model(a, family, model):
    """Exports one model in a subprocess (unless its meta.json exists); returns its meta.json."""
    folder = model if a.batch == 1 else f"{model}_b{a.batch}"
    meta_path = os.path.join(a.zoo, folder, "meta.json")
    if os.path.exists(meta_path) and not a.force:
        print(f"{family}/{model}: done before", flush=True)
        with open(meta_path) as f:
            return json.load(f)
    t = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, __file__, "--zoo", a.zoo, "--runs", str(a.runs),
                            "--batch", str(a.batch), "--one", family, model],
                           capture_output=True, text=True, timeout=a.timeout)
        status = "" if r.returncode == 0 else f" (exit {r.returncode})"
    except subprocess.TimeoutExpired:
        status = f" (timed out after {a.timeout} s)"
    if not os.path.exists(meta_path) or status:
        os.makedirs(os.path.join(a.zoo, folder), exist_ok=True)
        meta = {"family": family, "model": model, "exported": False, "ran": False}
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
        meta.setdefault("export_error" if not meta.get("exported") else "run_error", "process ended" + status)
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
    with open(meta_path) as f:
        meta = json.load(f)
    what = "ran" if meta.get("ran") else ("exported, MindSpore cannot run it" if meta.get("exported") else "not exported")
    print(f"{family}/{model}: {what} in {time.perf_counter() - t:.0f} s", flush=True)
    return meta

if __name__ == "__main__":
    main()
