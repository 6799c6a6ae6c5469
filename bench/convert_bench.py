"""`cellar convert` of a checkpoint of several GiB beside a plain copy of the same bytes (issue 15,
item 4: streamed, within 1.2x of cp; peak RSS within a fixed budget).

    .venv/bin/python bench/convert_bench.py --cellar build/cellar --size-mib 3072 --repeats 3

Writes DIR/src.safetensors (48 float32 tensors of size-mib/48 each, pseudo-random: dense, so no
hole punching makes any row cheap) and, with cellar, DIR/src.ckpt and DIR/shards/. Then times
--repeats interleaved rounds of every row (medians, and the median of each round's ratio to that
round's cp + fsync), with the sources in the page cache (a first round, untimed, reads them):
  cp                       cp SRC OUT (coreutils 9: copy_file_range)
  cp + fsync               the same, then fsync(OUT): what an atomic write must add
  cellar convert ...       each direction, sharded in and out, with --crc
and the peak RSS of each child (os.wait4; this process stays small, ~10 MiB, as a child's peak
starts at its parent's resident set). Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import sys
import time


def write_safetensors(path, n_tensors, tensor_bytes):
    import numpy as np

    count = tensor_bytes // 4
    header = {}
    off = 0
    for i in range(n_tensors):
        header[f"layer{i:02d}.weight"] = {"dtype": "F32", "shape": [count],
                                          "data_offsets": [off, off + count * 4]}
        off += count * 4
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for i in range(n_tensors):
            f.write(rng.integers(0, 2**32, size=count, dtype=np.uint32).tobytes())


def run(cmd):
    """(seconds, peak RSS in MiB, CPU seconds) of one child."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd}: exit status {status}")
    return dt, ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime


def cp_fsync(src, out):
    r = run(["cp", src, out])
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return r[0], None, r[2]


def clean(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cellar", required=True)
    ap.add_argument("--size-mib", type=int, default=3072)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    d = args.dir or tempfile.mkdtemp(prefix="convert-bench-", dir="/var/tmp")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "src.safetensors")
    ckpt = os.path.join(d, "src.ckpt")
    shards = os.path.join(d, "shards")
    n = 48
    # Written by a child: this process must stay small, since a child's peak RSS (ru_maxrss)
    # starts at its parent's resident set at fork.
    subprocess.run([sys.executable, __file__, "--write-only", src, str(n),
                    str((args.size_mib << 20) // n)], check=True)
    subprocess.run([args.cellar, "convert", src, ckpt], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(shards, exist_ok=True)
    shard_mib = str((args.size_mib + 2) // 3)  # three shards
    subprocess.run([args.cellar, "convert", src, os.path.join(shards, "model.ckpt"),
                    "--max-shard-mib", shard_mib], check=True, stdout=subprocess.DEVNULL)
    index = os.path.join(shards, "model.ckpt.index.json")
    out = lambda name: os.path.join(d, name)  # noqa: E731
    rows = [
        ("cp", src, out("copy.bin"), lambda o: run(["cp", src, o])),
        ("cp + fsync", src, out("copy.bin"), lambda o: cp_fsync(src, o)),
        ("cellar convert .safetensors → .ckpt", src, out("o.ckpt"),
         lambda o: run([args.cellar, "convert", src, o])),
        ("cellar convert .ckpt → .safetensors", ckpt, out("o.safetensors"),
         lambda o: run([args.cellar, "convert", ckpt, o])),
        (f"cellar convert .safetensors → 3 .ckpt shards (--max-shard-mib {shard_mib})", src,
         out("osh/model.ckpt"),
         lambda o: run([args.cellar, "convert", src, o, "--max-shard-mib", shard_mib])),
        ("cellar convert .ckpt shards (index) → .safetensors", index, out("o2.safetensors"),
         lambda o: run([args.cellar, "convert", index, o])),
        ("cellar convert .safetensors → .ckpt --crc", src, out("o3.ckpt"),
         lambda o: run([args.cellar, "convert", src, o, "--crc"])),
    ]
    size = os.path.getsize(src)
    # Rounds in which every row runs once, in turn (the machine's load changes by the minute: a
    # ratio within one round compares like with like); the first round only warms the page
    # cache with the sources (cellar writes around the page cache, so its outputs, the sharded
    # and .ckpt sources included, are not there until read). Each row's output is removed just
    # before it runs and right after (so that the disk holds one output at a time).
    times = [[] for _ in rows]
    rss = [[] for _ in rows]
    cpu = [[] for _ in rows]
    for k in range(args.repeats + 1):
        for i, (name, source, o, fn) in enumerate(rows):
            target = os.path.dirname(o)
            clean(target if target.endswith("osh") else o)
            os.makedirs(os.path.dirname(o), exist_ok=True)
            t0 = time.perf_counter()
            r = fn(o)
            dt = time.perf_counter() - t0
            clean(target if target.endswith("osh") else o)  # one output on disk at a time
            if k:
                times[i].append(dt)
                cpu[i].append(r[2])
                if r[1] is not None:
                    rss[i].append(r[1])
    med = statistics.median
    cp_sync = med(times[1])
    print(f"source {size / 2**30:.2f} GiB, {n} tensors; medians of {args.repeats} interleaved rounds")
    print("| what | seconds | GiB/s | speed vs cp + fsync (medians) | same, median of per-round "
          "ratios | CPU seconds | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for i, (name, *_rest) in enumerate(rows):
        t = med(times[i])
        per_round = med([a / b for a, b in zip(times[1], times[i])])
        peak = f"{max(rss[i]):.0f}" if rss[i] else ""
        print(f"| {name} | {t:.2f} | {size / 2**30 / t:.2f} | {cp_sync / t:.2f} | {per_round:.2f} | "
              f"{med(cpu[i]):.2f} | {peak} |")
    if not args.dir:
        shutil.rmtree(d)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--write-only":
        write_safetensors(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
