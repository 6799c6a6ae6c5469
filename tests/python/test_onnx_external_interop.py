"""ONNX external data (issue 15, item 4), live against the onnx package and ONNX Runtime:
- cellar writes external data when asked (`convert --external-data`) and by itself past 2 GiB:
  `<model>.onnx.data` beside the model, external_data {location, offset, length}, which
  onnx.checker, onnx.load and ONNX Runtime read;
- cellar reads what the onnx package writes (save_as_external_data), and refuses external data
  that escapes the model's folder, lies past the end of its file, or has the wrong length;
- a 2.1 GiB model (over protobuf's limit, data written straight to disk with NumPy: no 2 GiB
  protobuf is built anywhere) converts ONNX → ONNX (external data again, by itself) and
  ONNX → MindIR (the `_graph.mindir` + `_variables/data_0` layout), and ONNX Runtime and cellar
  compute the same rows from both.
"""
import os

from support import cellar, cellar_json, require


def _gather_model(onnx, np, weight, *, external=None):
    """y = Gather(W, idx, axis=0): W [K, D] float32, idx int64 [n]. With `external`
    ((location, offset)), W's data is external and `weight` is only read for its shape."""
    from onnx import TensorProto, helper

    if external is None:
        w = onnx.numpy_helper.from_array(weight, "W")
    else:
        w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=list(weight.shape))
        location, offset = external
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(offset)),
                     ("length", str(weight.nbytes))):
            e = w.external_data.add()
            e.key, e.value = k, v
    g = helper.make_graph(
        [helper.make_node("Gather", ["W", "idx"], ["y"], axis=0)], "g",
        [helper.make_tensor_value_info("idx", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, weight.shape[1]])],
        initializer=[w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _ort(path, idx):
    ort = require("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"idx": idx})[0]


def _cellar_run(tmp_path, model, idx):
    np = require("numpy")
    np.save(tmp_path / "idx.npy", idx)
    out = tmp_path / "y.npy"
    cellar("run", model, "--input", f"idx={tmp_path / 'idx.npy'}", "--output", out)
    return np.load(out)


def test_external_data_written_on_request_reads_in_onnx_and_onnxruntime(tmp_path):
    np = require("numpy")
    onnx = require("onnx")
    w = np.random.default_rng(0).standard_normal((300, 17)).astype(np.float32)
    src = tmp_path / "inline.onnx"
    onnx.save_model(_gather_model(onnx, np, w), src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "ext.onnx"
    cellar("convert", src, out, "--external-data")
    data = out_dir / "ext.onnx.data"
    assert data.is_file() and data.stat().st_size >= w.nbytes
    assert out.stat().st_size < 4096  # the weights are not inline
    m = onnx.load(str(out), load_external_data=False)
    ext = {kv.key: kv.value for kv in m.graph.initializer[0].external_data}
    assert ext["location"] == "ext.onnx.data" and int(ext["length"]) == w.nbytes
    assert m.graph.initializer[0].data_location == onnx.TensorProto.EXTERNAL
    onnx.checker.check_model(str(out))
    loaded = onnx.load(str(out))  # resolves the external data beside the model
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(loaded.graph.initializer[0]), w)
    idx = np.array([5, 0, 299], dtype=np.int64)
    np.testing.assert_array_equal(_ort(out, idx), w[idx])
    np.testing.assert_array_equal(_cellar_run(tmp_path, out, idx), w[idx])
    # Without the flag a small model stays one file.
    cellar("convert", src, tmp_path / "one.onnx")
    assert not (tmp_path / "one.onnx.data").exists()


def test_reads_external_data_onnx_writes_and_refuses_bad_references(tmp_path):
    np = require("numpy")
    onnx = require("onnx")
    w = np.arange(64 * 33, dtype=np.float32).reshape(64, 33)
    model = _gather_model(onnx, np, w)
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").is_file()
    idx = np.array([63, 1, 2], dtype=np.int64)
    np.testing.assert_array_equal(_cellar_run(tmp_path, path, idx), w[idx])
    np.testing.assert_array_equal(_ort(path, idx), w[idx])

    def variant(name, location, offset, length=None):
        m = onnx.load(str(path), load_external_data=False)
        t = m.graph.initializer[0]
        del t.external_data[:]
        for k, v in (("location", location), ("offset", str(offset)),
                     ("length", str(w.nbytes if length is None else length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        p = tmp_path / name
        onnx.save_model(m, str(p))
        return p

    size = (tmp_path / "weights.bin").stat().st_size
    outside = tmp_path.parent / f"{tmp_path.name}_outside.bin"
    outside.write_bytes(b"\0" * w.nbytes)
    try:
        cases = {
            "escape.onnx": (f"../{outside.name}", 0, None, "leaves the model's folder"),
            "absolute.onnx": (str(outside), 0, None, "leaves the model's folder"),
            "past_eof.onnx": ("weights.bin", size - 16, None, "lies outside"),
            "short.onnx": ("weights.bin", 0, w.nbytes - 4, "differs from"),
            "missing.onnx": ("nothere.bin", 0, None, "cannot read external data"),
        }
        for name, (location, offset, length, why) in cases.items():
            p = variant(name, location, offset, length)
            proc = cellar("convert", p, tmp_path / "x.mindir", status=1)
            assert why in proc.stderr, (name, proc.stderr)
            assert name in proc.stderr and "'W'" in proc.stderr, (name, proc.stderr)
            assert not (tmp_path / "x.mindir").exists()
    finally:
        outside.unlink()


def test_model_over_2gib_writes_and_reads_external_data(tmp_path):
    np = require("numpy")
    onnx = require("onnx")
    rows, cols = 540_000, 1024  # 2.06 GiB of float32: over protobuf's 2 GiB
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    data = src_dir / "big.bin"
    mm = np.memmap(data, dtype=np.float32, mode="w+", shape=(rows, cols))
    chunk = 20_000
    for r in range(0, rows, chunk):  # row r holds r + column / 1024: every row tells its number
        n = min(chunk, rows - r)
        mm[r:r + n] = (np.arange(r, r + n, dtype=np.float32)[:, None]
                       + np.arange(cols, dtype=np.float32)[None, :] / 1024)
    mm.flush()
    del mm
    src = src_dir / "big.onnx"
    onnx.save_model(_gather_model(onnx, np, _Shape(rows, cols), external=("big.bin", 0)), src)
    idx = np.array([0, 271_828, rows - 1], dtype=np.int64)
    want = (idx[:, None].astype(np.float32) + np.arange(cols, dtype=np.float32)[None, :] / 1024)

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "copy.onnx"
    cellar("convert", src, out, timeout=600)  # no flag: over 2 GiB, external data by itself
    assert (out_dir / "copy.onnx.data").stat().st_size >= rows * cols * 4
    assert out.stat().st_size < 4096
    np.testing.assert_array_equal(_ort(out, idx), want)
    np.testing.assert_array_equal(_cellar_run(tmp_path, out, idx), want)
    os.remove(out_dir / "copy.onnx.data")

    mindir = cellar("convert", src, out_dir / "big.mindir", timeout=600).stdout
    assert "big_graph.mindir" in mindir
    assert (out_dir / "big_variables" / "data_0").stat().st_size >= rows * cols * 4
    np.testing.assert_array_equal(_cellar_run(tmp_path, out_dir / "big_graph.mindir", idx), want)


class _Shape:
    """Stands for W where only its shape and byte count are read (_gather_model, external)."""

    def __init__(self, rows, cols):
        self.shape = (rows, cols)
        self.nbytes = rows * cols * 4


def test_weights_viewed_in_the_data_file_are_not_kept_resident_beside_their_packed_copies(
        tmp_path):
    """Issue 13's memory bound (peak RSS while running ≤ weights + arena + 32 MiB) on a model whose
    weight cellar views where the data file holds it (external data at an aligned offset): the
    optimiser packs it into a copy, and the pages the view made resident while being read must not
    stay resident in the mapping beside that copy (they did: 64 MiB over the bound here). A second
    constant in the same file, used as it is, keeps the mapping alive (as a model's biases do)."""
    np = require("numpy")
    onnx = require("onnx")
    from onnx import TensorProto, helper

    k = n = 4096  # 64 MiB of float32
    w = np.random.default_rng(3).standard_normal((k, n)).astype(np.float32)
    c = np.random.default_rng(5).standard_normal((8, n)).astype(np.float32)
    (tmp_path / "w.bin").write_bytes(w.tobytes() + c.tobytes())

    def external(name, a, offset):
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(a.shape))
        t.data_location = TensorProto.EXTERNAL
        for key, v in (("location", "w.bin"), ("offset", str(offset)), ("length", str(a.nbytes))):
            e = t.external_data.add()
            e.key, e.value = key, v
        return t

    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["p"]), helper.make_node("Add", ["p", "C"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, n])],
        initializer=[external("W", w, 0), external("C", c, w.nbytes)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "mm.onnx")
    j = cellar_json("bench", tmp_path / "mm.onnx", "--threads", "1", "--iterations", "3")
    mib = 2 ** 20
    assert j["weights_bytes"] == w.nbytes + c.nbytes
    assert j["run_peak_rss_bytes"] is not None, "no /proc/self/clear_refs"
    bound = j["weights_bytes"] + j["arena_bytes"] + 32 * mib
    assert j["run_peak_rss_bytes"] <= bound, (
        f"runs peak at {j['run_peak_rss_bytes'] / mib:.1f} MiB for {w.nbytes / mib:.0f} MiB of "
        f"weights and a {j['arena_bytes'] / mib:.1f} MiB arena")
    # The same product as ONNX Runtime's.
    x = np.random.default_rng(4).standard_normal((8, k)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    cellar("run", tmp_path / "mm.onnx", "--input", f"x={tmp_path / 'x.npy'}", "--output",
           tmp_path / "y.npy")
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), x @ w + c, rtol=1e-4, atol=1e-3)
