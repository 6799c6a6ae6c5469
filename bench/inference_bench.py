"""Inference latency of cellar's GraphCell beside ONNX Runtime and OpenVINO, side by side in one run.

    .venv/bin/python bench/inference_bench.py [--build build] [--iterations 200] [--threads 1,2]
        [--nets mlp,mlp64,...] [--no-cold] [--mindspore-python /opt/msenv/bin/python]
        [--zoo /work/zoo [--zoo-models resnet18,...] [--zoo-batches 1,8]] [--callers 2]
        [--write-doc docs/benchmarks.md --label "what changed"]
    ./dev bench inference [ARGS…]   (the same, on the Release build; installs openvino first)

The networks:
  mlp, mlp64, lenet5, resnet18  tests/tools/export_models (fixed seeds and shapes): the tutorial's
                MLP at batch 1 and 64, LeNet-5 at batch 2, the ResNet-18-shaped net at 32×32
  zoo_*         the mindcv models MindSpore 2.10 exported in tests/fixtures/mindspore/2.10/zoo/, at
                the fixtures' size (1×3×64×64, 10 classes)
  mindcv_*      with --zoo DIR: the issue's mindcv models (--zoo-models; default resnet18, resnet50,
                mobilenet_v2_100, mobilenet_v3_small_100, efficientnet_b0, shufflenet_v2_x1_0,
                convnext_tiny, vit_b_32_224) as tools/zoo/export_mindcv.py writes them
                (DIR/<model>/<model>.mindir and input.npy: 224×224, 10 classes, random weights),
                at each batch of --zoo-batches (1,8; batch b runs b copies of the input). Those
                files are large and never committed: a model missing from DIR is reported as
                SKIPPED (with the command that exports it) and the run goes on.
Every peer runs cellar's ONNX of the same MindIR (`cellar convert NET.mindir NET.onnx`), on the same
input; the bench first checks that the peers' outputs agree with cellar's (max |difference|).
For each net and thread count T:
  cellar      `cellar bench NET.mindir --threads T --json` (its median of --iterations runs)
  baseline    with --baseline-build DIR: DIR/cellar bench the same way (before/after in one run)
  onnxruntime intra_op_num_threads = T, inter_op_num_threads = 1, in this process
  openvino    CPU plugin, INFERENCE_NUM_THREADS = T, INFERENCE_PRECISION_HINT = f32,
              PERFORMANCE_HINT = LATENCY, in this process (skipped when openvino is not installed)
  mindspore   NET.mindir through mindspore.load + nn.GraphCell, when --mindspore-python is given
Cold start (fresh processes, file on disk to first output, 1 thread), per net at batch 1, the
four interleaved round by round (--cold-repeats rounds; medians and ranges):
  cellar      wall time of `cellar run NET.mindir --threads 1 --input x.npy`, spawn to exit (exec,
              dynamic loading, static initialisers, reading the input, printing the output and
              exiting all included; not --output y.npy, whose atomic write fsyncs the file)
  cellar (in process) a fresh interpreter pinned to one CPU, `import cellar` done, then timed:
              cellar.load(NET.mindir) + nn.GraphCell + np.load + the first call (the same steps
              as ORT's line below, the Python package over the same library)
  onnxruntime in a fresh interpreter: SessionOptions + InferenceSession(NET.onnx) + np.load + the
              first run, timed inside the process (interpreter start and `import onnxruntime`
              excluded), and the whole process spawn to exit
Serving, with --callers N: one loaded model run by N threads at once, --iterations runs each,
throughput in samples per second over the wall time, per net and thread count T (threads per run):
  cellar      `cellar bench NET.mindir --threads T --callers N --json` (one Executor: weights shared,
              an arena per concurrent run)
  onnxruntime one InferenceSession (intra_op_num_threads = T) run from N Python threads at once
              (session.run releases the GIL), beside the same with one caller
Prints medians in microseconds and cellar over the fastest peer (< 1: cellar faster). With
--clock cpu each run is timed by its process's CPU time instead (cellar's `cpu_median_us`, the
peers' time.process_time()): what to read on a loaded machine, at 1 thread.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "tests", "fixtures", "mindspore", "2.10", "zoo")
EXPORTED = ["mlp", "lenet5", "resnet18"]
# The mindcv models (issue 13), looked up in --zoo DIR.
MINDCV_MODELS = ["resnet18", "resnet50", "mobilenet_v2_100", "mobilenet_v3_small_100",
                 "efficientnet_b0", "shufflenet_v2_x1_0", "convnext_tiny", "vit_b_32_224"]
# The CPU flags that decide which kernels run (printed with every result).
KEY_FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"]

MINDSPORE_SNIPPET = r"""
import sys, time, statistics, numpy as np
import mindspore as ms
from mindspore import nn
path, inp, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
cell = nn.GraphCell(ms.load(path))
x = ms.Tensor(np.load(inp))
for _ in range(5): cell(x).asnumpy()
t = []
for _ in range(iters):
    t0 = time.perf_counter(); cell(x).asnumpy(); t.append(time.perf_counter() - t0)
print("MEDIAN_US", statistics.median(t) * 1e6)
"""

ORT_COLD_SNIPPET = r"""
import sys, time
import numpy as np
import onnxruntime as ort
path, inp = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
so = ort.SessionOptions()
so.intra_op_num_threads = 1
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
x = np.load(inp)
sess.run(None, {sess.get_inputs()[0].name: x})
print("COLD_US", (time.perf_counter() - t0) * 1e6, (time.process_time() - c0) * 1e6)
"""


# cellar's side of the same measurement, in the same kind of process: a fresh interpreter with
# `import cellar` done before the clock starts, as `import onnxruntime` is for ORT. The process is
# pinned to one CPU first, so the GraphCell's pool has one worker (ORT: intra_op_num_threads = 1).
CELLAR_COLD_SNIPPET = r"""
import os, sys, time
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
import numpy as np
import cellar
path, inp = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
cell = cellar.nn.GraphCell(cellar.load(path))
x = np.load(inp)
np.asarray(cell(cellar.Tensor(x)))
print("COLD_US", (time.perf_counter() - t0) * 1e6, (time.process_time() - c0) * 1e6)
"""


def cpu_description():
    model, flags = platform.processor(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    flags = [fl for fl in KEY_FLAGS if fl in have]
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs; flags: {' '.join(flags) or '(none of ' + ' '.join(KEY_FLAGS) + ')'}"


def run_child(cmd, env=None, usage=None):
    """Runs cmd; returns (stdout, wall seconds). Raises on a non-zero exit. With a list as usage,
    appends the child's CPU time (user + system seconds, its threads included)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if usage is not None:
            usage.append(ru.ru_utime + ru.ru_stime)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        if p.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.read().decode()[-2000:]}")
    return out.decode(), wall


def cellar_bench(cli, model, threads, iterations, batch=None, callers=1):
    """`cellar bench --json`: median_us, arena_bytes, weights_bytes, run_peak_rss_bytes, ..."""
    cmd = [cli, "bench", model, "--threads", str(threads), "--iterations", str(iterations), "--json"]
    if batch:
        cmd += ["--batch", str(batch)]
    if callers > 1:
        cmd += ["--callers", str(callers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def timed_median_us(fn, iterations, clock=time.perf_counter):
    """Median of `iterations` runs of fn (after 5 untimed), by `clock`: time.perf_counter (wall)
    or time.process_time (this process's CPU time, every thread's)."""
    for _ in range(5):
        fn()
    t = []
    for _ in range(iterations):
        t0 = clock()
        fn()
        t.append(clock() - t0)
    return statistics.median(t) * 1e6


def cellar_median_us(r, clock):
    """The median of a `cellar bench --json` result by the chosen clock (None when an older build's
    JSON has no CPU-time field)."""
    return r.get("cpu_median_us") if clock == "cpu" else r["median_us"]


def ort_session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ort_run(model, x, threads):
    sess = ort_session(model, threads)
    name = sess.get_inputs()[0].name
    return lambda: sess.run(None, {name: x})[0]


def ort_throughput(model, x, threads, callers, iterations):
    """Samples per second of one ORT session run by `callers` Python threads at once, `iterations`
    runs each (after 5 warm-up runs each), over the wall time."""
    import threading
    sess = ort_session(model, threads)
    feed = {sess.get_inputs()[0].name: x}
    ready = threading.Barrier(callers)
    spans = []

    def work():
        for _ in range(5):
            sess.run(None, feed)
        ready.wait()
        t0 = time.perf_counter()  # each caller's own start: the main thread may wake late
        for _ in range(iterations):
            sess.run(None, feed)
        spans.append((t0, time.perf_counter()))

    ths = [threading.Thread(target=work) for _ in range(callers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = max(e for _, e in spans) - min(b for b, _ in spans)
    return x.shape[0] * callers * iterations / wall


def openvino_run(model, x, threads):
    try:
        import openvino as ov
    except ImportError:
        return None
    compiled = ov.Core().compile_model(model, "CPU", {
        "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY"})
    req = compiled.create_infer_request()
    return lambda: req.infer({0: x})[compiled.output(0)]


def mindspore_median_us(python, model, inp, iterations):
    out = subprocess.run([python, "-c", MINDSPORE_SNIPPET, model, inp, str(iterations)],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("MEDIAN_US"):
            return float(line.split()[1])
    print(f"SKIP mindspore on {os.path.basename(model)}: {out.stderr.strip().splitlines()[-1:]}")
    return None


def with_batch(src, dst, batch):
    """A copy of ONNX file src whose first input and outputs take `batch` on their leading axis
    (cellar's export fixes the batch; the peers need a file of the size they run)."""
    import onnx
    m = onnx.load(src)
    for v in list(m.graph.input[:1]) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    del m.graph.value_info[:]
    onnx.save(m, dst)


def zoo_nets(zoo, models, batches, d):
    """The mindcv models found in zoo, one entry per batch; loud about the missing ones."""
    import numpy as np
    nets, missing = [], []
    for m in models:
        mindir, inp = os.path.join(zoo, m, m + ".mindir"), os.path.join(zoo, m, "input.npy")
        if not (os.path.exists(mindir) and os.path.exists(inp)):
            missing.append(m)
            continue
        for b in batches:
            if b == 1:
                nets.append(("mindcv_" + m, mindir, None, inp, None))
                continue
            # Exported by MindSpore at this batch (export_mindcv.py --batch b): run as it is.
            native = os.path.join(zoo, f"{m}_b{b}", m + ".mindir")
            if os.path.exists(native) and os.path.exists(os.path.join(zoo, f"{m}_b{b}", "input.npy")):
                nets.append(("mindcv_" + m, native, None, os.path.join(zoo, f"{m}_b{b}", "input.npy"), None))
                continue
            # Else the batch-1 file with its leading dimension replaced (cellar bench --batch).
            x = np.load(inp)
            xb = os.path.join(d, f"mindcv_{m}_b{b}_input.npy")
            np.save(xb, np.ascontiguousarray(np.repeat(x[:1], b, axis=0)))
            nets.append(("mindcv_" + m, mindir, None, xb, b))
    return nets, missing


def prepare(build, d, wanted, zoo=None, zoo_models=(), zoo_batches=(1,)):
    """Writes the nets' files into d; returns ([(name, mindir, onnx, input .npy, batch or None)],
    [skipped: (name, reason)])."""
    import numpy as np
    cli = os.path.join(build, "cellar")
    subprocess.run([os.path.join(build, "tests", "tools", "export_models"), d], check=True,
                   capture_output=True)
    nets = []
    for net in EXPORTED:
        nets.append((net, os.path.join(d, net + ".mindir"), None, os.path.join(d, net + "_input.npy"), None))
        if net == "mlp":
            x = np.load(os.path.join(d, "mlp_input.npy"))
            x64 = np.random.default_rng(0).random((64,) + x.shape[1:], dtype=np.float32)
            np.save(os.path.join(d, "mlp64_input.npy"), x64)
            nets.append(("mlp64", os.path.join(d, "mlp.mindir"), None, os.path.join(d, "mlp64_input.npy"), 64))
    for f in sorted(os.listdir(ZOO)) if os.path.isdir(ZOO) else []:
        if f.endswith(".mindir"):
            stem = f[:-len(".mindir")]
            nets.append(("zoo_" + stem, os.path.join(ZOO, f), None, os.path.join(ZOO, stem + ".input.npy"), None))
    skipped = []
    if zoo:
        found, missing = zoo_nets(zoo, zoo_models, zoo_batches, d)
        nets += found
        for m in missing:
            skipped.append(("mindcv_" + m, f"{zoo}/{m}/{m}.mindir or input.npy absent (export: "
                            f"/opt/ms/bin/python tools/zoo/export_mindcv.py --zoo {zoo} --models {m})"))
    out = []
    for name, mindir, _, inp, batch in nets:
        if wanted and name not in wanted:
            continue
        onnx_path = os.path.join(d, f"{name}_b{batch or 1}_{len(out)}.onnx")
        base = os.path.join(d, os.path.basename(os.path.dirname(mindir)) + "_" +
                            os.path.basename(mindir)[:-len(".mindir")] + ".converted.onnx")
        try:
            if not os.path.exists(base):
                subprocess.run([cli, "convert", mindir, base], check=True, capture_output=True,
                               text=True)
            if batch:
                # cellar must accept the batch too (a graph may fix it in a Reshape).
                subprocess.run([cli, "bench", mindir, "--batch", str(batch), "--iterations", "1",
                                "--warmup", "0", "--json"], check=True, capture_output=True,
                               text=True)
                with_batch(base, onnx_path, batch)
            else:
                shutil.copyfile(base, onnx_path)
        except subprocess.CalledProcessError as e:
            skipped.append((f"{name} batch {batch or 1}",
                            f"{' '.join(e.cmd[:2])}: {(e.stderr or '').strip()[-300:]}"))
            continue
        out.append((name, mindir, onnx_path, inp, batch))
    return out, skipped


def cellar_output(cli, mindir, inp, d):
    import numpy as np
    y = os.path.join(d, "cellar_out.npy")
    subprocess.run([cli, "run", mindir, "--input", inp, "--output", y], check=True, capture_output=True)
    return np.load(y)


def cold_start(cli, python, mindir, onnx_path, inp, d, repeats, build):
    """Medians and ranges of: cellar's whole process, cellar in a fresh interpreter (load +
    GraphCell + first run, timed inside), ORT the same way, ORT's whole process. The four are
    interleaved, one of each per round, so that the machine's load moves them alike."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(build), "python"))
    cellar_wall, cellar_in, ort_in, ort_wall = [], [], [], []
    cpu = {"cellar": [], "cellar_in": [], "ort_in": []}
    for _ in range(repeats):
        # The output printed (to the pipe), not written to a file: `--output` writes it atomically,
        # with an fsync that costs the disk's latency (~20 ms here), which ORT's side does not pay.
        _, wall = run_child([cli, "run", mindir, "--threads", "1", "--input", inp],
                            usage=cpu["cellar"])
        cellar_wall.append(wall * 1e6)
        out, _ = run_child([python, "-c", CELLAR_COLD_SNIPPET, mindir, inp], env)
        cellar_in.append(float(out.split()[1]))
        cpu["cellar_in"].append(float(out.split()[2]) / 1e6)
        out, wall = run_child([python, "-c", ORT_COLD_SNIPPET, onnx_path, inp])
        ort_in.append(float(out.split()[1]))
        cpu["ort_in"].append(float(out.split()[2]) / 1e6)
        ort_wall.append(wall * 1e6)
    return cellar_wall, cellar_in, ort_in, ort_wall, {k: [x * 1e6 for x in v] for k, v in cpu.items()}


def fmt(v):
    return f"{v:,.0f}" if v is not None else "–"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    ap.add_argument("--nets", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start table")
    ap.add_argument("--cold-repeats", type=int, default=5)
    ap.add_argument("--mindspore-python")
    ap.add_argument("--baseline-build", help="another build tree (e.g. main's): its `cellar bench` "
                    "runs beside this one's, as a before/after column of the same run")
    ap.add_argument("--write-doc", help="append the result, with its command, to this Markdown file")
    ap.add_argument("--label", default="", help="a heading for the --write-doc section")
    ap.add_argument("--zoo", help="a folder of tools/zoo/export_mindcv.py exports: adds the issue's "
                    "mindcv models (missing ones are reported and skipped)")
    ap.add_argument("--zoo-models", default=",".join(MINDCV_MODELS),
                    help="comma-separated mindcv models to look for in --zoo")
    ap.add_argument("--zoo-batches", default="1,8", help="batches to run the --zoo models at")
    ap.add_argument("--callers", type=int, default=0,
                    help="also measure serving: throughput with this many threads running one "
                    "loaded model at once, cellar beside one ONNX Runtime session")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="what a run's latency is: wall time (default), or the process's CPU time "
                    "(every thread's) per run, for cellar, ONNX Runtime and OpenVINO alike. On a "
                    "shared, loaded machine a run's wall time counts the others' scheduler slices; "
                    "at 1 thread its CPU time is the wall time it would take alone. At 2 threads "
                    "CPU time adds both threads (and any spinning), so it is not a latency there")
    ap.add_argument("--only-zoo", action="store_true",
                    help="with --zoo: only the mindcv models (not the built-in nets)")
    args = ap.parse_args()
    import numpy as np

    cli = os.path.join(args.build, "cellar")
    exporter = os.path.join(args.build, "tests", "tools", "export_models")
    for p in (cli, exporter):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: build first (./dev build, with the tests)")
    threads = [int(t) for t in args.threads.split(",")]
    wanted = set(filter(None, args.nets.split(",")))
    try:
        import openvino
        ov_version = openvino.__version__ if hasattr(openvino, "__version__") else "?"
    except ImportError:
        ov_version = None
    import onnxruntime
    lines = []

    def emit(s=""):
        print(s, flush=True)
        lines.append(s)

    with tempfile.TemporaryDirectory() as d:
        nets, skipped = prepare(args.build, d, wanted, args.zoo,
                                [m for m in args.zoo_models.split(",") if m],
                                [int(b) for b in args.zoo_batches.split(",")])
        if args.only_zoo:
            nets = [n for n in nets if n[0].startswith("mindcv_")]
        emit(f"CPU: {cpu_description()}")
        emit(f"load average at start: {os.getloadavg()[0]:.2f}; onnxruntime {onnxruntime.__version__}; "
             f"openvino {ov_version or 'not installed (pip install openvino)'}")
        what = ("median CPU time per run (the process's, every thread's)" if args.clock == "cpu"
                else "median latency (wall)")
        emit(f"{what} in microseconds, {args.iterations} runs each; cellar/fastest < 1: cellar faster")
        for name, why in skipped:
            emit(f"SKIPPED {name}: {why}")
        emit()
        clock = time.process_time if args.clock == "cpu" else time.perf_counter  # the peers' runs
        base_cli = os.path.join(args.baseline_build, "cellar") if args.baseline_build else None
        base_col = " baseline cellar µs |" if base_cli else ""
        emit(f"| net | batch | threads | cellar µs |{base_col} ONNX Runtime µs | OpenVINO µs | "
             "cellar / fastest | peers' max diff / max abs |")
        emit("|---|---|---|---|---|---|---|---|" + ("---|" if base_cli else ""))
        memory = {}
        for name, mindir, onnx_path, inp, batch in nets:
            x = np.load(inp)
            ref = cellar_output(cli, mindir, inp, d)
            scale = max(float(np.max(np.abs(ref))), 1e-30)
            ms_us = (mindspore_median_us(args.mindspore_python, mindir, inp, args.iterations)
                     if args.mindspore_python and not batch else None)
            for t in threads:
                r = cellar_bench(cli, mindir, t, args.iterations, batch)
                c = cellar_median_us(r, args.clock)
                if t == threads[0]:
                    memory[(name, x.shape[0], t)] = r
                ort_fn = ort_run(onnx_path, x, t)
                diff = float(np.max(np.abs(ort_fn() - ref))) / scale
                o = timed_median_us(ort_fn, args.iterations, clock)
                ov_fn = openvino_run(onnx_path, x, t) if ov_version else None
                v = None
                if ov_fn:
                    diff = max(diff, float(np.max(np.abs(ov_fn() - ref))) / scale)
                    v = timed_median_us(ov_fn, args.iterations, clock)
                fastest = min(p for p in (o, v) if p is not None)
                extra = f" (MindSpore {ms_us:,.0f} µs)" if ms_us and t == 1 else ""
                base = (f" {fmt(cellar_median_us(cellar_bench(base_cli, mindir, t, args.iterations, batch), args.clock))} |"
                        if base_cli else "")
                emit(f"| {name} | {x.shape[0]} | {t} | {fmt(c)} |{base} {fmt(o)} | {fmt(v)} | "
                     f"{c / fastest:.2f} | {diff:.1e}{extra} |")
        mib = lambda b: f"{b / 2**20:.1f}" if b is not None else "–"
        emit()
        emit("memory, fresh `cellar bench` process (the executor keeps only what it runs): "
             "weights as loaded, planned arena, peak RSS while running (VmHWM reset after "
             "loading), its bound weights + arena + 32 MiB, and the whole process's peak (loading "
             "included):")
        emit()
        emit("| net | batch | threads | weights MiB | arena MiB | peak RSS running MiB | bound MiB | within | process peak RSS MiB |")
        emit("|---|---|---|---|---|---|---|---|---|")
        for (name, b, t), r in memory.items():
            w, a, run = r.get("weights_bytes"), r.get("arena_bytes"), r.get("run_peak_rss_bytes")
            bound = w + a + 32 * 2**20 if w is not None else None
            ok = "yes" if run is not None and bound is not None and run <= bound else "NO"
            emit(f"| {name} | {b} | {t} | {mib(w)} | {mib(a)} | {mib(run)} | {mib(bound)} | {ok} | "
                 f"{mib(r.get('peak_rss_bytes'))} |")
        if args.callers > 1:
            emit()
            emit(f"serving: one loaded model run by {args.callers} threads at once "
                 f"({args.iterations} runs each), samples per second over the wall time; "
                 "1 caller: one thread, the same runs; threads = threads per run:")
            emit()
            emit(f"| net | batch | threads | cellar 1 caller /s | cellar {args.callers} callers /s | "
                 f"ORT 1 caller /s | ORT {args.callers} callers /s | cellar ÷ ORT at {args.callers} callers (> 1: cellar serves more) |")
            emit("|---|---|---|---|---|---|---|---|")
            for name, mindir, onnx_path, inp, batch in nets:
                x = np.load(inp)
                for t in threads:
                    # Over the wall time for both, as for ORT (not from the median latency).
                    c1 = cellar_bench(cli, mindir, t, args.iterations, batch)["wall_throughput_per_s"]
                    cn = cellar_bench(cli, mindir, t, args.iterations, batch,
                                      args.callers)["wall_throughput_per_s"]
                    o1 = ort_throughput(onnx_path, x, t, 1, args.iterations)
                    on = ort_throughput(onnx_path, x, t, args.callers, args.iterations)
                    emit(f"| {name} | {x.shape[0]} | {t} | {fmt(c1)} | {fmt(cn)} | {fmt(o1)} | "
                         f"{fmt(on)} | {cn / on:.2f} |")
        if not args.no_cold:
            emit()
            emit(f"cold start, file on disk to first output, fresh processes, 1 thread; median "
                 f"[min–max] of {args.cold_repeats} interleaved rounds. cellar process: `cellar "
                 "run` spawn to exit (exec, dynamic loading, reading the input .npy, printing the "
                 "output and exiting included); in process: a fresh interpreter, after `import "
                 "cellar` / `import onnxruntime`, timed from before loading the file to the first "
                 "output (cellar.load + GraphCell + np.load + call; SessionOptions + "
                 "InferenceSession + np.load + run); ORT process: the interpreter's whole run:")
            emit()
            emit("| net | cellar process µs | cellar in process µs | ORT in process µs | "
                 "ORT process µs | cellar process / ORT in process | cellar / ORT, both in process |")
            emit("|---|---|---|---|---|---|---|")
            med = statistics.median
            span = lambda v: f"{fmt(med(v))} [{fmt(min(v))}–{fmt(max(v))}]"
            cpu_rows = []
            for name, mindir, onnx_path, inp, batch in nets:
                if batch or np.load(inp).shape[0] != 1:
                    continue
                cw, ci, oi, ow, cpu = cold_start(cli, sys.executable, mindir, onnx_path, inp, d,
                                                 args.cold_repeats, args.build)
                emit(f"| {name} | {span(cw)} | {span(ci)} | {span(oi)} | {span(ow)} | "
                     f"{med(cw) / med(oi):.2f} | {med(ci) / med(oi):.2f} |")
                cpu_rows.append(f"| {name} | {span(cpu['cellar'])} | {span(cpu['cellar_in'])} | "
                                f"{span(cpu['ort_in'])} | {med(cpu['cellar']) / med(cpu['ort_in']):.2f} | "
                                f"{med(cpu['cellar_in']) / med(cpu['ort_in']):.2f} |")
            emit()
            emit("the same rounds in CPU time (user + system, every thread; less moved by the "
                 "machine's load than the wall time): the `cellar run` process whole (from its "
                 "rusage), and the timed sections in process (time.process_time):")
            emit()
            emit("| net | cellar process CPU µs | cellar in process CPU µs | ORT in process CPU µs | "
                 "cellar process / ORT in process | cellar / ORT, both in process |")
            emit("|---|---|---|---|---|---|")
            for row in cpu_rows:
                emit(row)

    if args.write_doc:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "bench/inference_bench.py " + " ".join(sys.argv[1:])
        with open(args.write_doc, "a") as f:
            f.write(f"\n### {args.label or 'Inference run'} ({now}, commit {commit})\n\n")
            f.write(f"```\n.venv/bin/python {cmd}\n```\n\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
