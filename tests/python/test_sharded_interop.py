"""Sharded checkpoints between cellar and the `safetensors` package, in the layout transformers'
save_pretrained writes (model-0000K-of-0000N.safetensors + model.safetensors.index.json with
metadata.total_size and weight_map): files Python writes are read by `cellar inspect`, `convert`
and `diff` through the index or the folder, and shards `cellar convert --max-shard-mib` writes
are read back by Python through the index.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import json
import subprocess

from support import cellar_cli, require


def run(*args):
    return subprocess.run([str(cellar_cli()), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def tensors(np):
    rng = np.random.default_rng(7)
    out = {}
    for i in range(6):
        out[f"model.layers.{i}.weight"] = rng.standard_normal((256, 512)).astype(np.float32)
        out[f"model.layers.{i}.bias"] = rng.standard_normal(512).astype(np.float16)
    out["lm_head.weight"] = rng.integers(-5, 5, (64, 32)).astype(np.int64)
    return out


def save_pretrained_layout(np, folder, arrays, shards=3):
    """What transformers' save_pretrained(safe_serialization=True) writes for a sharded model."""
    from safetensors.numpy import save_file
    names = sorted(arrays)
    groups = [names[k::shards] for k in range(shards)]
    weight_map, total = {}, 0
    for k, group in enumerate(groups, 1):
        shard = f"model-{k:05d}-of-{shards:05d}.safetensors"
        save_file({n: arrays[n] for n in group}, str(folder / shard), metadata={"format": "pt"})
        for n in group:
            weight_map[n] = shard
            total += arrays[n].nbytes
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return index


def test_cellar_reads_a_transformers_layout(tmp_path):
    np = require("numpy")
    require("safetensors")
    from safetensors.numpy import load_file
    arrays = tensors(np)
    index = save_pretrained_layout(np, tmp_path, arrays)
    for target in (tmp_path / "model.safetensors.index.json", tmp_path):
        r = run("inspect", target, "--json")
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j["format"] == "safetensors"
        assert j["tensor_count"] == len(arrays)
        assert j["tensor_bytes"] == index["metadata"]["total_size"]
        assert j["shards"] == [f"model-0000{k}-of-00003.safetensors" for k in (1, 2, 3)]
    out = tmp_path / "joined" / "model.safetensors"
    out.parent.mkdir()
    r = run("convert", tmp_path / "model.safetensors.index.json", out)
    assert r.returncode == 0, r.stderr
    joined = load_file(str(out))
    assert set(joined) == set(arrays)
    for n, a in arrays.items():
        assert joined[n].dtype == a.dtype and np.array_equal(joined[n], a), n
    r = run("diff", tmp_path, out)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_reads_shards_cellar_writes(tmp_path):
    np = require("numpy")
    require("safetensors")
    from safetensors.numpy import load_file, save_file
    arrays = tensors(np)
    single = tmp_path / "single.safetensors"
    save_file(arrays, str(single))
    out_dir = tmp_path / "sharded"
    out_dir.mkdir()
    r = run("convert", single, out_dir / "model.safetensors", "--max-shard-mib", "1")
    assert r.returncode == 0, r.stderr
    index = json.loads((out_dir / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 2 and shards[0].endswith(f"-of-{len(shards):05d}.safetensors")
    got, total = {}, 0
    for shard in shards:
        part = load_file(str(out_dir / shard))
        for n, a in part.items():
            assert index["weight_map"][n] == shard
            assert n not in got
            got[n] = a
            total += a.nbytes
        assert sum(a.nbytes for a in part.values()) <= (1 << 20) or len(part) == 1
    assert total == index["metadata"]["total_size"]
    assert set(got) == set(arrays)
    for n, a in arrays.items():
        assert np.array_equal(got[n], a), n


def test_bad_index_is_refused(tmp_path):
    np = require("numpy")
    require("safetensors")
    save_pretrained_layout(np, tmp_path, tensors(np))
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    index["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    r = run("inspect", tmp_path / "model.safetensors.index.json")
    assert r.returncode == 1
    assert "not a file in the index's folder" in r.stderr and "lm_head.weight" in r.stderr
