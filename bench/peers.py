"""The peers of bench/checkpoint_bench.cpp, on the tensor sizes it wrote to DIR/spec.txt.

Prints `RESULT <kind>@<format> <median seconds> <name>` lines, format the file format written or
read (ckpt, safetensors, pt), kind one of save, load_copy, load_mmap (no
bytes read), load_mmap_touch (every page read).
Measures whatever this interpreter can import: numpy + safetensors, torch, mindspore; says
`SKIP <peer>: <reason>` for the others.
"""
import argparse
import os
import statistics
import time


# A load that maps and reads nothing takes well under a millisecond: a median of a few runs is
# then mostly noise (the first run's cold caches), so such rows take at least this many.
MIN_MMAP_REPEATS = 50


def median_time(repeats, fn):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def touch_all(arrays):
    s = 0
    for a in arrays:
        b = a.reshape(-1).view("uint8")
        s += int(b[::4096].sum())
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import numpy as np

    sizes = [int(x) for x in open(os.path.join(args.dir, "spec.txt")).read().split()]
    arrays = {}
    for i, n in enumerate(sizes):
        k = np.arange(n, dtype=np.uint64)
        arrays[f"layer{i // 4}.param{i % 4}"] = (((k * 2654435761 + i) % 1000) / 997.0).astype(np.float32)
    r = args.repeats

    try:
        from safetensors.numpy import save_file, load_file
        path = os.path.join(args.dir, "peer.safetensors")
        print("RESULT save@safetensors", median_time(r, lambda: (save_file(arrays, path), os.sync())), "safetensors.numpy save_file (+sync)")
        print("RESULT load_copy@safetensors", median_time(r, lambda: load_file(path)), "safetensors.numpy load_file")
        from safetensors import safe_open

        def mmap_load():
            with safe_open(path, "np") as f:
                touch_all([f.get_tensor(k) for k in f.keys()])
        print("RESULT load_copy@safetensors", median_time(r, mmap_load), "safetensors safe_open get_tensor + touch")

        def mmap_view():
            with safe_open(path, "np") as f:
                return [f.get_slice(k) for k in f.keys()]
        print("RESULT load_mmap@safetensors", median_time(max(r, MIN_MMAP_REPEATS), mmap_view), "safetensors safe_open get_slice (lazy views)")
        os.remove(path)
    except ImportError as e:
        print(f"SKIP safetensors: {e}")

    try:
        import torch
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        path = os.path.join(args.dir, "peer.pt")

        def save():
            torch.save(tensors, path)
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        print("RESULT save@pt", median_time(r, save), "torch.save (+fsync)")
        print("RESULT load_copy@pt", median_time(r, lambda: torch.load(path)), "torch.load")
        print("RESULT load_mmap@pt", median_time(max(r, MIN_MMAP_REPEATS), lambda: torch.load(path, mmap=True)), "torch.load(mmap=True)")
        print("RESULT load_mmap_touch@pt", median_time(r, lambda: touch_all([t.numpy() for t in torch.load(path, mmap=True).values()])),
              "torch.load(mmap=True) + touch")
        os.remove(path)
    except ImportError as e:
        print(f"SKIP torch: {e}")

    try:
        import mindspore as ms
        params = [{"name": k, "data": ms.Tensor(v)} for k, v in arrays.items()]
        path = os.path.join(args.dir, "peer.ckpt")

        def fsync(p):
            fd = os.open(p, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        # MindSpore does not fsync what it saves (its .ckpt writer makes the file read-only,
        # hence the chmod); like torch.save, it is timed with the fsync that makes the bytes durable,
        # as cellar's atomic save and the write()+fsync limit are.
        def save():
            if os.path.exists(path):
                os.chmod(path, 0o644)
            ms.save_checkpoint(params, path)
            fsync(path)
        print("RESULT save@ckpt", median_time(r, save), "mindspore.save_checkpoint (+fsync)")
        try:
            print("RESULT load_copy@ckpt", median_time(r, lambda: ms.load_checkpoint(path)), "mindspore.load_checkpoint")
        except ValueError as e:
            # MindSpore 2.10 refuses a .ckpt larger than os.sysconf("SC_AVPHYS_PAGES") pages: the
            # kernel's MemFree, which leaves out the page cache (MemAvailable counts it). With a warm
            # cache MemFree can be far below what the process could have. No option turns it off.
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            mem_available = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemAvailable:")), "?")
            print(f"SKIP mindspore.load_checkpoint: {type(e).__name__}: {e} "
                  f"(SC_AVPHYS_PAGES now {avail >> 20} MiB; MemAvailable {int(mem_available) >> 10} MiB)")
        os.chmod(path, 0o644)
        os.remove(path)
        # The format MindSpore's documentation recommends for large weights (its .ckpt loader
        # reads the whole protobuf into memory first): the same tensors as safetensors.
        st_path = os.path.join(args.dir, "peer-ms.safetensors")

        def save_st():
            if os.path.exists(st_path):
                os.chmod(st_path, 0o644)
            ms.save_checkpoint(params, st_path, format="safetensors")
            fsync(st_path)
        print("RESULT save@safetensors", median_time(r, save_st), "mindspore.save_checkpoint(format=safetensors) (+fsync)")
        # Its safetensors load is lazy: Parameters over the mapped file (nothing copied), so it is
        # a zero-copy load, compared with cellar's, and timed again with every page touched.
        print("RESULT load_mmap@safetensors", median_time(max(r, MIN_MMAP_REPEATS), lambda: ms.load_checkpoint(st_path, format="safetensors")),
              "mindspore.load_checkpoint(format=safetensors) (lazy)")
        print("RESULT load_mmap_touch@safetensors",
              median_time(r, lambda: touch_all([p.asnumpy() for p in ms.load_checkpoint(st_path, format="safetensors").values()])),
              "mindspore.load_checkpoint(format=safetensors) + touch")
        os.chmod(st_path, 0o644)
        os.remove(st_path)
    except ImportError as e:
        print(f"SKIP mindspore: {e}")


if __name__ == "__main__":
    main()
