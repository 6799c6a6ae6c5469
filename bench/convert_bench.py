"""`cellar convert` of a checkpoint of several GiB beside a plain copy of the same bytes (issue 15,
item 4: streamed, within 1.2x of cp; peak RSS within a fixed budget).

    .venv/bin/python bench/convert_bench.py --cellar build/cellar --size-mib 3072 --repeats 3

Writes DIR/src.safetensors (48 float32 tensors of size-mib/48 each, pseudo-random: dense, so no
hole punching makes any row cheap) and, with cellar, DIR/src.ckpt and DIR/shards/. Then times,
median of --repeats, with the source in the page cache (each row runs once untimed first):
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
    """(seconds, peak RSS in MiB) of one child."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{cmd}: exit status {status}")
    return dt, ru.ru_maxrss / 1024


def cp_fsync(src, out):
    subprocess.run(["cp", src, out], check=True)
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


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
    subprocess.run([args.cellar, "convert", src, os.path.join(shards, "model.ckpt"),
                    "--max-shard-mib", "1024"], check=True, stdout=subprocess.DEVNULL)
    index = os.path.join(shards, "model.ckpt.index.json")
    out = lambda name: os.path.join(d, name)  # noqa: E731
    rows = [
        ("cp", src, out("copy.bin"), lambda o: run(["cp", src, o])),
        ("cp + fsync", src, out("copy.bin"), lambda o: (cp_fsync(src, o), None)),
        ("cellar convert .safetensors → .ckpt", src, out("o.ckpt"),
         lambda o: run([args.cellar, "convert", src, o])),
        ("cellar convert .ckpt → .safetensors", ckpt, out("o.safetensors"),
         lambda o: run([args.cellar, "convert", ckpt, o])),
        ("cellar convert .safetensors → 3 .ckpt shards (--max-shard-mib 1024)", src,
         out("osh/model.ckpt"),
         lambda o: run([args.cellar, "convert", src, o, "--max-shard-mib", "1024"])),
        ("cellar convert .ckpt shards (index) → .safetensors", index, out("o2.safetensors"),
         lambda o: run([args.cellar, "convert", index, o])),
        ("cellar convert .safetensors → .ckpt --crc", src, out("o3.ckpt"),
         lambda o: run([args.cellar, "convert", src, o, "--crc"])),
    ]
    size = os.path.getsize(src)
    results = []
    for name, source, o, fn in rows:
        times, rss = [], []
        for k in range(args.repeats + 1):
            target = os.path.dirname(o)
            clean(target if target.endswith("osh") else o)
            os.makedirs(os.path.dirname(o), exist_ok=True)
            t0 = time.perf_counter()
            r = fn(o)
            dt = time.perf_counter() - t0
            if k:  # the first run warms the page cache with the source
                times.append(dt)
                if r and r[1] is not None:
                    rss.append(r[1])
        clean(os.path.dirname(o) if o.endswith("osh/model.ckpt") else o)
        results.append((name, statistics.median(times), max(rss) if rss else None))
    cp = results[0][1]
    cp_sync = results[1][1]
    print(f"source {size / 2**30:.2f} GiB, {n} tensors; median of {args.repeats}")
    print("| what | seconds | GiB/s | × cp | × (cp + fsync) | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for name, t, rss in results:
        print(f"| {name} | {t:.2f} | {size / 2**30 / t:.2f} | {t / cp:.2f} | {t / cp_sync:.2f} | "
              f"{'' if rss is None else f'{rss:.0f}'} |")
    if not args.dir:
        shutil.rmtree(d)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--write-only":
        write_safetensors(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
