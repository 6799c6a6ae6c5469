"""cellar's Python package beyond the tutorial: Tensors and NumPy, errors, Cells in Python,
checkpoint options, the GIL."""
import sys
import threading
import time

import numpy as np
import pytest

import cellar
import cellar as ms
from cellar import Parameter, Tensor, nn, ops


# --- Tensor <-> NumPy ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                                   np.float64])
def test_numpy_roundtrip_keeps_dtype_shape_and_values(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    t = Tensor(a)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24
    assert str(t.dtype) == {np.bool_: "Bool", np.float16: "Float16", np.float32: "Float32",
                            np.float64: "Float64"}.get(dtype, np.dtype(dtype).name.capitalize()
                                                       .replace("Uint", "UInt"))
    b = t.asnumpy()
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)


def test_asarray_and_memoryview_view_the_tensor_without_copy():
    t = Tensor(np.zeros([2, 3], np.float32))
    a = np.asarray(t)
    a[1, 2] = 7.0
    assert t.asnumpy()[1, 2] == 7.0  # same bytes
    m = memoryview(t)
    assert m.format == "f" and m.shape == (2, 3) and not m.readonly
    del t  # the view keeps the storage alive
    assert a[1, 2] == 7.0 and m[1, 2] == 7.0


def test_tensor_of_an_array_copies_as_mindspore_does():
    # MindSpore's Tensor(ndarray) copies (checked with MindSpore 2.x): code written for it may go
    # on writing the array. Parameter(ndarray) likewise.
    a = np.ones([3], np.float32)
    t = Tensor(a)
    p = Parameter(a, name="p")
    a[0] = 5
    assert t.asnumpy()[0] == 1 and p.asnumpy()[0] == 1
    assert not np.shares_memory(t.asnumpy(), a)


def test_tensor_from_numpy_shares_memory_both_ways():
    # As torch.from_numpy and MindSpore's Tensor.from_numpy: the tensor views the array's memory.
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor.from_numpy(a)
    back = t.asnumpy()
    assert np.shares_memory(back, a)  # np -> cellar -> np: one buffer
    a[0, 1] = 11  # writes through the array show in the tensor...
    assert t.asnumpy()[0, 1] == 11
    np.asarray(t)[1, 2] = 12  # ...and writes through the tensor in the array
    assert a[1, 2] == 12
    assert (t + 1).asnumpy()[1, 2] == 13  # ops read the shared bytes
    assert nn.ReLU()(t).asnumpy()[0, 1] == 11  # and C++ cells (GIL released)
    # The array's memory outlives the array object while a tensor views it.
    b = np.full([1024], 3.5, np.float64)
    t = Tensor.from_numpy(b)
    with pytest.raises(ValueError):
        b.resize(2048)  # NumPy refuses: the tensor holds the buffer
    del b
    import gc
    gc.collect()
    assert t.asnumpy().sum() == 3.5 * 1024
    # The buffer (and its reference to the array) is released with the last tensor, also when
    # that goes in another thread.
    c = np.ones([8], np.int32)
    base = sys.getrefcount(c)
    holder = [Tensor.from_numpy(c)]
    holder.append(holder[0].reshape(2, 4))
    assert sys.getrefcount(c) == base + 1
    holder.pop()
    assert sys.getrefcount(c) == base + 1
    th = threading.Thread(target=holder.clear)
    th.start()
    th.join()
    assert sys.getrefcount(c) == base
    # Bool arrays share too.
    m = np.array([True, False, True])
    assert np.shares_memory(Tensor.from_numpy(m).asnumpy(), m)


def test_tensor_from_numpy_copies_what_it_cannot_view():
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    cases = {
        "strided": base[:, ::2],
        "fortran": np.asfortranarray(base),
        "big-endian": base.astype(">f4"),
        "misaligned": np.frombuffer(bytearray(4 * 12 + 1), dtype=np.float32, count=12,
                                    offset=1).reshape(3, 4),
    }
    ro = base.copy()
    ro.flags.writeable = False
    cases["read-only"] = ro
    cases["misaligned"][...] = base
    for name, a in cases.items():
        t = Tensor.from_numpy(a)
        out = t.asnumpy()
        assert not np.shares_memory(out, a), name
        np.testing.assert_array_equal(out, a, err_msg=name)
        assert out.flags.c_contiguous and out.ctypes.data % 4 == 0, name
        assert t.dtype == ms.float32, name
    # Bool bytes other than 0/1 (a uint8 array viewed as bool) are normalised in a copy.
    raw = np.array([0, 2, 1, 255], np.uint8)
    t = Tensor.from_numpy(raw.view(np.bool_))
    assert not np.shares_memory(t.asnumpy(), raw)
    assert t.asnumpy().view(np.uint8).tolist() == [0, 1, 1, 1]
    assert Tensor(raw.view(np.bool_)).asnumpy().view(np.uint8).tolist() == [0, 1, 1, 1]
    # An empty array gives a fresh tensor.
    assert Tensor.from_numpy(np.zeros([0, 3], np.float32)).shape == (0, 3)


def test_python_lists_follow_mindspore_dtypes():
    assert Tensor([1, 2, 3]).dtype == ms.int64
    assert Tensor([1.0, 2.0]).dtype == ms.float32
    assert Tensor([True]).dtype == ms.bool_
    assert Tensor(np.array([1.0])).dtype == ms.float64  # an array keeps its dtype
    assert Tensor([1, 2], dtype=ms.float16).dtype == ms.float16
    assert Tensor(shape=(2, 2), dtype=ms.int32).asnumpy().tolist() == [[0, 0], [0, 0]]
    # Scalars are 0-d, as MindSpore's Tensor(1.5).shape == ().
    assert Tensor(1.5).shape == () and Tensor(1.5).dtype == ms.float32
    assert Tensor(np.array(3, np.int32)).shape == () and Tensor(np.float64(2)).item() == 2.0
    assert Tensor.from_numpy(np.array(7, np.int64)).shape == ()
    assert str(ms.float32) == "Float32"


def test_bfloat16_reaches_numpy_through_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    t = Tensor(np.array([1.0, -2.5, 3.0e38, 0.1], np.float32)).astype(ms.bfloat16)
    assert t.dtype == ms.bfloat16
    a = t.asnumpy()
    assert a.dtype == ml_dtypes.bfloat16 and a.shape == (4,)
    # cellar's float32 -> bfloat16 rounding agrees with ml_dtypes'.
    expect = np.array([1.0, -2.5, 3.0e38, 0.1], np.float32).astype(ml_dtypes.bfloat16)
    assert a.view(np.uint16).tolist() == expect.view(np.uint16).tolist()
    # A view of the tensor's bytes both ways, as for the other dtypes.
    a[0] = 8
    assert t.astype(ms.float32).asnumpy()[0] == 8
    assert np.asarray(t).dtype == ml_dtypes.bfloat16
    b = np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16)
    u = Tensor.from_numpy(b)
    assert u.dtype == ms.bfloat16 and u.shape == (2, 3)
    assert np.shares_memory(u.asnumpy(), b)
    assert Tensor(b).dtype == ms.bfloat16 and not np.shares_memory(Tensor(b).asnumpy(), b)
    np.testing.assert_array_equal(u.astype(ms.float32).asnumpy(), b.astype(np.float32))
    # The buffer protocol has no bfloat16 format: refused, not mislabelled.
    with pytest.raises(BufferError, match="bfloat16"):
        memoryview(t)


def test_bfloat16_without_ml_dtypes_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import ml_dtypes fails
    t = Tensor(np.ones([2], np.float32)).astype(ms.bfloat16)
    with pytest.raises(TypeError, match="ml_dtypes.*astype"):
        t.asnumpy()
    np.testing.assert_array_equal(t.astype(ms.float32).asnumpy(), [1, 1])


def test_arithmetic_runs_the_ops():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    b = Tensor(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    np.testing.assert_array_equal((a + b).asnumpy(), [[2, 2], [3, 5]])
    np.testing.assert_array_equal((a - 1).asnumpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal((2 * a).asnumpy(), [[2, 4], [6, 8]])
    np.testing.assert_array_equal((a @ b).asnumpy(), a.asnumpy())
    np.testing.assert_array_equal((a / 2).asnumpy(), [[0.5, 1], [1.5, 2]])
    np.testing.assert_array_equal(ops.relu(-a).asnumpy(), np.zeros([2, 2]))
    assert a.reshape(4).shape == (4,) and a.reshape((1, 4)).shape == (1, 4)


def test_dlpack_both_ways():
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    a = np.from_dlpack(t)  # zero copy
    a[0, 0] = 42
    assert t.asnumpy()[0, 0] == 42
    src = np.arange(4, dtype=np.int32)
    back = cellar.from_dlpack(src)  # zero copy the other way
    assert back.dtype == ms.int32 and back.asnumpy().tolist() == [0, 1, 2, 3]
    assert np.shares_memory(back.asnumpy(), src)
    src[3] = 9
    assert back.asnumpy()[3] == 9
    # A round trip through DLPack both ways stays on one buffer.
    assert np.shares_memory(np.from_dlpack(cellar.from_dlpack(a)), a)
    # Strided memory arrives as a copy.
    s = np.arange(10, dtype=np.float64)[::2]
    c = cellar.from_dlpack(s)
    assert c.asnumpy().tolist() == [0, 2, 4, 6, 8] and not np.shares_memory(c.asnumpy(), s)


class _FakeGpuTensor:
    """A producer on a CUDA device: cellar must refuse it before asking for a capsule."""
    asked = False

    def __dlpack_device__(self):
        return (2, 1)

    def __dlpack__(self, **kwargs):
        _FakeGpuTensor.asked = True
        raise AssertionError("no capsule should be requested for a GPU tensor")


def test_from_dlpack_refuses_other_devices_and_non_producers():
    with pytest.raises(ValueError, match=r"device CUDA:1 .*CPU"):
        cellar.from_dlpack(_FakeGpuTensor())
    assert not _FakeGpuTensor.asked
    with pytest.raises(TypeError, match="has no __dlpack__"):
        cellar.from_dlpack([1, 2, 3])


def test_dlpack_with_torch_where_installed():
    torch = pytest.importorskip("torch")
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    tt = torch.from_dlpack(t)
    assert tuple(tt.shape) == (2, 3) and float(tt[1, 2]) == 5.0
    assert cellar.from_dlpack(tt * 2).asnumpy().tolist() == [[0, 2, 4], [6, 8, 10]]


# --- errors -------------------------------------------------------------------------------

def test_cellar_errors_are_builtin_exceptions_with_context(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(ValueError) as e:
        ms.load_checkpoint(str(bad))
    assert isinstance(e.value, cellar.FormatError) and isinstance(e.value, cellar.Error)
    assert e.value.file == str(bad) and str(bad) in str(e.value)
    with pytest.raises(OSError) as e:
        ms.load_checkpoint(str(tmp_path / "missing.ckpt"))
    assert isinstance(e.value, cellar.FileAccessError) and "missing.ckpt" in str(e.value)


def test_shape_mismatch_names_the_parameter(tmp_path):
    ms.save_checkpoint(nn.SequentialCell([nn.Dense(4, 3)]), str(tmp_path / "a.ckpt"))
    with pytest.raises(ValueError, match="0.weight"):
        ms.load_checkpoint(str(tmp_path / "a.ckpt"), net=nn.SequentialCell([nn.Dense(5, 3)]))


def test_wrong_argument_types_raise_not_crash(tmp_path):
    with pytest.raises(TypeError):
        ms.save_checkpoint(42, str(tmp_path / "x.ckpt"))
    with pytest.raises(TypeError):
        ms.save_checkpoint(nn.Dense(2, 2), str(tmp_path / "x.ckpt"), async_save="yes")
    with pytest.raises(TypeError):
        ms.save_checkpoint(nn.Dense(2, 2), str(tmp_path / "x.ckpt"), enc_key="not bytes")
    with pytest.raises(TypeError):
        ms.load_param_into_net(nn.Dense(2, 2), [1, 2])
    with pytest.raises(ValueError):
        nn.Dense(4, 3)(Tensor(np.ones([2, 5], np.float32)))
    with pytest.raises(ValueError):
        Tensor([[1, 2], [3]])  # ragged
    with pytest.raises(TypeError):
        Tensor([object()])
    with pytest.raises(ValueError):
        ms.save_checkpoint(nn.Dense(2, 2), str(tmp_path / "x"), format="pickle")
    with pytest.raises(TypeError):
        ms.export(nn.Dense(2, 2), Tensor(np.ones([1, 2], np.float32)), file_name="x",
                  obf_config={})


# --- Cells written in Python ---------------------------------------------------------------

class TwoLayer(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense1 = nn.Dense(4, 8)
        self.act = nn.ReLU()
        self.dense2 = nn.Dense(8, 2)
        self.scale = Parameter(Tensor(np.full([2], 2.0, np.float32)), name="scale")

    def construct(self, x):
        return self.dense2(self.act(self.dense1(x))) * self.scale


def test_python_cells_register_attributes_with_mindspore_names(tmp_path):
    net = TwoLayer()
    assert [n for n, _ in net.parameters_and_names()] == [
        "scale", "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"]
    assert net.cls_name == "TwoLayer"
    outer = nn.SequentialCell([TwoLayer(), nn.ReLU()])
    assert [n for n, _ in outer.parameters_and_names()][:2] == ["0.scale", "0.dense1.weight"]
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    eager = outer(x).asnumpy()
    path = ms.export(outer, x, file_name=str(tmp_path / "two"), file_format="MINDIR")
    np.testing.assert_allclose(nn.GraphCell(ms.load(path))(x).asnumpy(), eager, rtol=1e-5,
                               atol=1e-6)
    ms.save_checkpoint(outer, str(tmp_path / "two.ckpt"))
    fresh = nn.SequentialCell([TwoLayer(), nn.ReLU()])
    assert ms.load_param_into_net(fresh, ms.load_checkpoint(str(tmp_path / "two.ckpt"))) == ([], [])
    np.testing.assert_allclose(fresh(x).asnumpy(), eager, rtol=1e-6)


def test_python_cell_errors_propagate_through_cpp():
    class Broken(nn.Cell):
        def construct(self, x):
            raise KeyError("from construct")

    with pytest.raises(KeyError, match="from construct"):
        nn.SequentialCell([Broken()])(Tensor(np.ones([1], np.float32)))


# --- checkpoint options -------------------------------------------------------------------

def test_checkpoint_options_with_mindspore_names(tmp_path):
    net = TwoLayer()
    key = b"0123456789abcdef"
    f = tmp_path / "enc.ckpt"
    ms.save_checkpoint(net, str(f), append_dict={"epoch": 3, "lr": 0.5, "tag": "best"},
                       enc_key=key, enc_mode="AES-CBC", crc_check=True,
                       choice_func=lambda name: not name.startswith("dense2"))
    with pytest.raises(cellar.CryptoError):
        ms.load_checkpoint(str(f))
    d = ms.load_checkpoint(str(f), dec_key=key, dec_mode="AES-CBC", crc_check=True)
    assert list(d) == ["scale", "dense1.weight", "dense1.bias", "epoch", "lr", "tag"]
    assert d["tag"] == "best" and d["epoch"].asnumpy() == 3
    only = ms.load_checkpoint(str(f), dec_key=key, dec_mode="AES-CBC", specify_prefix="dense1",
                              filter_prefix=["dense1.bias"])
    assert list(only) == ["dense1.weight"]
    picked = ms.load_checkpoint(str(f), dec_key=key, dec_mode="AES-CBC",
                                choice_func=lambda n: n == "scale")
    assert list(picked) == ["scale"]


def test_safetensors_format_and_conversion(tmp_path):
    net = TwoLayer()
    ms.save_checkpoint(net, str(tmp_path / "w"), format="safetensors")
    assert (tmp_path / "w.safetensors").is_file()
    st = pytest.importorskip("safetensors.numpy")
    loaded = st.load_file(str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(loaded["dense1.weight"], net.dense1.weight.asnumpy())
    ms.safetensors_to_ckpt(str(tmp_path / "w.safetensors"))
    d = ms.load_checkpoint(str(tmp_path / "w.ckpt"))
    np.testing.assert_array_equal(d["scale"].asnumpy(), [2, 2])
    with ms.safe_open(str(tmp_path / "w.safetensors"), framework="np") as f:
        assert set(f.keys()) == {n for n, _ in net.parameters_and_names()}
        np.testing.assert_array_equal(f.get_tensor("dense2.bias"), net.dense2.bias.asnumpy())
        assert f.metadata() == {"format": "ms"}
    with ms.safe_open(str(tmp_path / "w.ckpt"), framework="ms") as f:
        assert f.metadata() is None
        assert isinstance(f.get_tensor("scale"), Tensor)


def test_async_save_returns_a_handle(tmp_path):
    h = ms.save_checkpoint(TwoLayer(), str(tmp_path / "a.ckpt"), async_save=True)
    h.wait()
    assert h.done() and len(ms.load_checkpoint(str(tmp_path / "a.ckpt"))) == 5


def test_export_and_load_with_mindspore_key_names(tmp_path):
    net = TwoLayer()
    x = Tensor(np.ones([2, 4], np.float32))
    key = b"0123456789abcdef"
    path = ms.export(net, x, file_name=str(tmp_path / "enc"), file_format="MINDIR", enc_key=key,
                     enc_mode="AES-GCM")
    with pytest.raises(cellar.Error):
        ms.load(path)  # encrypted: refused without the key
    with pytest.raises(cellar.CryptoError):
        ms.load(path, dec_key=b"fedcba9876543210", dec_mode="AES-GCM")
    graph = ms.load(path, dec_key=key, dec_mode="AES-GCM")
    np.testing.assert_allclose(nn.GraphCell(graph)(x).asnumpy(), net(x).asnumpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(TypeError, match="does not support"):
        ms.export(net, x, file_name=str(tmp_path / "e"), file_format="MINDIR", enc_file=True)


# --- the GIL ------------------------------------------------------------------------------

def _ticks_while(work):
    """How often a thread that gives the GIL up at every step ran while `work()` ran in this
    one, with a switch interval of minutes: > 0 only if `work` released the GIL."""
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.0002)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(300)
    t = threading.Thread(target=count)
    try:
        t.start()
        time.sleep(0.01)  # the counter is running (it took the GIL while this thread slept)
        before = ticks
        work()
        during = ticks - before
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        t.join()
    return during


def test_checkpoint_save_and_load_release_the_gil(tmp_path):
    net = nn.SequentialCell([nn.Dense(1024, 1024) for _ in range(8)])  # 32 MiB
    f = str(tmp_path / "big.ckpt")
    assert _ticks_while(lambda: [ms.save_checkpoint(net, f, crc_check=True)
                                 for _ in range(3)]) > 0
    assert _ticks_while(lambda: [ms.load_checkpoint(f, crc_check=True)
                                 for _ in range(3)]) > 0
    fresh = nn.SequentialCell([nn.Dense(1024, 1024) for _ in range(8)])
    assert ms.load_param_into_net(fresh, ms.load_checkpoint(f)) == ([], [])
    np.testing.assert_array_equal(fresh[7].weight.asnumpy(), net[7].weight.asnumpy())


def test_graphcell_releases_the_gil(tmp_path):
    net = nn.SequentialCell([nn.Dense(256, 256), nn.ReLU(), nn.Dense(256, 256)])
    # 1,024 rows: each call computes for ~1 ms with the GIL released, several of the counter's
    # 0.2 ms sleeps, so the counter runs even on a loaded machine (at 64 rows a call took ~70 µs
    # on a Zen 5 and the counter, asleep or not scheduled, could miss all 50 windows).
    x = Tensor(np.ones([1024, 256], np.float32))
    cell = nn.GraphCell(ms.load(ms.export(net, x, file_name=str(tmp_path / "g"),
                                          file_format="MINDIR")))
    # The counter advances during the 50 calls exactly when cell() releases the GIL.
    assert _ticks_while(lambda: [cell(x) for _ in range(50)]) > 0
    # Four threads call one GraphCell at once (each call gets an arena of its own): every call,
    # on inputs of its own, gives the single-threaded answer.
    xs = [Tensor(np.full([1024, 256], k / 4, np.float32)) for k in range(4)]
    want = [cell(xk).asnumpy() for xk in xs]
    assert not np.array_equal(want[0], want[1])
    results = {}

    def calls(k):
        results[k] = [cell(xs[k]).asnumpy() for _ in range(50)]

    ths = [threading.Thread(target=calls, args=(k,)) for k in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    for k in range(4):
        for r in results[k]:
            np.testing.assert_array_equal(r, want[k])


def test_named_parameters_keep_their_names_as_in_mindspore():
    class Named(nn.Cell):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(Tensor(np.ones([2], np.float32)), name="w")
            self.bias = Parameter(Tensor(np.zeros([2], np.float32)))  # default name

        def construct(self, x):
            return x * self.weight + self.bias

    net = nn.SequentialCell([Named()])
    assert [n for n, _ in net.parameters_and_names()] == ["0.w", "0.bias"]
    assert net[0].weight.name == "0.w"


def test_indexing_follows_numpy():
    t = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert t[1].asnumpy().tolist() == [4, 5, 6, 7]
    assert t[:, 1:3].shape == (3, 2) and t[-1, -1].item() == 11.0


def test_graphcell_params_init_and_convert_name_map(tmp_path):
    net = TwoLayer()
    x = Tensor(np.ones([1, 4], np.float32))
    path = ms.export(net, x, file_name=str(tmp_path / "g"), file_format="MINDIR")
    zero = np.zeros([2], np.float32)
    plain = nn.GraphCell(ms.load(path))(x).asnumpy()
    # params_init replaces graph parameters by name: a zero scale zeroes the output.
    zeroed = nn.GraphCell(ms.load(path), params_init={"scale": Tensor(zero)})(x).asnumpy()
    assert np.abs(plain).sum() > 0 and np.abs(zeroed).sum() == 0
    with pytest.raises(ValueError, match="scale"):
        nn.GraphCell(ms.load(path), params_init={"scale": Tensor(np.zeros([3], np.float32))})
    ms.save_checkpoint(net, str(tmp_path / "n.ckpt"))
    out = tmp_path / "out"
    ms.ckpt_to_safetensors(str(tmp_path / "n.ckpt"), str(out), name_map={"scale": "gain"})
    with ms.safe_open(str(out / "n.safetensors")) as f:
        assert "gain" in f.keys() and "scale" not in f.keys()


def test_reading_a_traced_tensor_is_refused_by_export(tmp_path):
    class DataDependent(nn.Cell):
        def construct(self, x):
            return x * 2 if float(x.asnumpy().sum()) > 0 else x

    x = Tensor(np.ones([2], np.float32))
    assert DataDependent()(x).asnumpy().tolist() == [2, 2]  # eager: fine
    with pytest.raises(cellar.ExportError):
        ms.export(DataDependent(), x, file_name=str(tmp_path / "d"), file_format="MINDIR")
    with pytest.raises(BufferError):
        class Peeks(nn.Cell):
            def construct(self, y):
                memoryview(y)
                return y

        ms.export(Peeks(), x, file_name=str(tmp_path / "p"), file_format="MINDIR")
    assert not list(tmp_path.iterdir())


def test_cell_list_registers_its_cells_by_index(tmp_path):
    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.layers = nn.CellList([nn.Dense(4, 4), nn.Dense(4, 2)])

        def construct(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Stack()
    assert [n for n, _ in net.parameters_and_names()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert len(net.layers) == 2 and isinstance(net.layers[1], nn.Dense)
    x = Tensor(np.ones([1, 4], np.float32))
    path = ms.export(net, x, file_name=str(tmp_path / "s"), file_format="MINDIR")
    np.testing.assert_allclose(nn.GraphCell(ms.load(path))(x).asnumpy(), net(x).asnumpy(),
                               rtol=1e-5, atol=1e-6)
