"""Cells written in Python as MindSpore's nn.Cell behaves: attribute re-assignment replaces, del
removes, SequentialCell(OrderedDict) names children by key; load_param_into_net's fine-tuning
keywords (name_map, skip_shape_mismatch)."""
from collections import OrderedDict

import numpy as np
import pytest

import cellar as ms
from cellar import Parameter, Tensor, nn


def names(cell):
    return [n for n, _ in cell.parameters_and_names()]


class Head(nn.Cell):
    def __init__(self, classes=10):
        super().__init__()
        self.backbone = nn.Dense(4, 8)
        self.act = nn.ReLU()
        self.fc = nn.Dense(8, classes)
        self.bias = Parameter(Tensor(np.zeros([classes], np.float32)))

    def construct(self, x):
        return self.fc(self.act(self.backbone(x))) + self.bias


def test_reassigning_a_child_replaces_it_in_place(tmp_path):
    net = Head()
    first = net.fc
    net.fc = nn.Dense(8, 3)  # a second assignment: one child, where the first stood
    net.bias = Parameter(Tensor(np.ones([3], np.float32)))
    assert names(net) == ["bias", "backbone.weight", "backbone.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.cells_and_names()] == ["", "backbone", "act", "fc"]
    assert net.fc is not first and net.fc.weight.shape == (3, 8)
    assert net.fc.weight.name == "fc.weight"  # MindSpore's naming kept for the new child
    x = Tensor(np.ones([2, 4], np.float32))
    assert net(x).shape == (2, 3)
    # What runs, saves and exports is the new child.
    ms.save_checkpoint(net, str(tmp_path / "h.ckpt"))
    d = ms.load_checkpoint(str(tmp_path / "h.ckpt"))
    assert list(d) == names(net) and d["fc.weight"].shape == (3, 8)
    path = ms.export(net, x, file_name=str(tmp_path / "h"), file_format="MINDIR")
    np.testing.assert_allclose(nn.GraphCell(ms.load(path))(x).asnumpy(), net(x).asnumpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_tensor_assigned_to_a_parameter_attribute_becomes_its_data():
    net = Head(classes=2)
    held = net.bias
    net.bias = Tensor(np.array([5.0, 6.0], np.float32))  # MindSpore: Parameter.set_data
    assert isinstance(net.bias, Parameter) and net.bias.asnumpy().tolist() == [5, 6]
    assert dict(net.parameters_and_names())["bias"].asnumpy().tolist() == [5, 6]
    assert held.asnumpy().tolist() == [5, 6]
    with pytest.raises(TypeError, match="'fc' of Head is a Cell"):
        net.fc = 3


def test_del_and_none_remove_children_and_parameters():
    net = Head()
    del net.bias
    del net.act
    assert names(net) == ["backbone.weight", "backbone.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.cells_and_names()] == ["", "backbone", "fc"]
    with pytest.raises(AttributeError):
        net.act
    net.fc = None  # MindSpore: a child set to None is skipped
    assert names(net) == ["backbone.weight", "backbone.bias"]
    net.fc = nn.Dense(8, 2)  # and can be set again, at the end
    assert names(net)[-2:] == ["fc.weight", "fc.bias"]
    with pytest.raises(AttributeError):
        del net.missing


def test_sequential_cell_from_an_ordered_dict_names_children_by_key(tmp_path):
    seq = nn.SequentialCell(OrderedDict([("flatten", nn.Flatten()), ("fc1", nn.Dense(16, 8)),
                                         ("relu", nn.ReLU()), ("fc2", nn.Dense(8, 3))]))
    assert names(seq) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert len(seq) == 4 and isinstance(seq[1], nn.Dense) and isinstance(seq[-1], nn.Dense)
    x = Tensor(np.ones([2, 4, 4], np.float32))
    assert seq(x).shape == (2, 3)
    ms.save_checkpoint(seq, str(tmp_path / "s.ckpt"))
    assert list(ms.load_checkpoint(str(tmp_path / "s.ckpt"))) == names(seq)
    with pytest.raises(TypeError, match="str names to Cells"):
        nn.SequentialCell(OrderedDict([("a", 3)]))
    with pytest.raises(ValueError, match="names are non-empty"):
        nn.SequentialCell(OrderedDict([("a.b", nn.ReLU())]))


# --- load_param_into_net's fine-tuning keywords -----------------------------------------------

def test_name_map_renames_the_checkpoint_before_matching(tmp_path):
    src = Head()
    ms.save_checkpoint({"module." + n: p for n, p in src.parameters_and_names()},
                       str(tmp_path / "dp.ckpt"))
    d = ms.load_checkpoint(str(tmp_path / "dp.ckpt"))
    x = Tensor(np.ones([1, 4], np.float32))
    # Without a map nothing matches (strict_load: without it MindSpore's own fallback strips a
    # wrapper's prefix; the map is what does the work below).
    fresh = Head()
    not_loaded, unused = ms.load_param_into_net(fresh, d, strict_load=True)
    assert not_loaded == names(fresh) and len(unused) == 5
    # Rule text, a list of rule lines, a rule file, a dict: each loads everything.
    rule_file = tmp_path / "map.txt"
    rule_file.write_text("# DataParallel's prefix\nstrip_prefix module.\n")
    exact = {"module." + n: n for n in names(src)}
    for name_map in ("strip_prefix module.", ["add_prefix x.", "strip_prefix x.module."],
                     rule_file, exact):
        fresh = Head()
        assert ms.load_param_into_net(fresh, d, strict_load=True, name_map=name_map) == \
            ([], []), name_map
        np.testing.assert_array_equal(fresh(x).asnumpy(), src(x).asnumpy())
    # load_checkpoint(net=...) takes it too; reports use the renamed names.
    fresh = Head()
    ms.load_checkpoint(str(tmp_path / "dp.ckpt"), net=fresh, strict_load=True,
                       name_map=["strip_prefix module.", "drop ^fc\\."])
    np.testing.assert_array_equal(fresh.backbone.weight.asnumpy(), src.backbone.weight.asnumpy())
    assert ms.load_param_into_net(Head(), d, strict_load=True,
                                  name_map={"module.bias": "bias"})[1][0] == "module.backbone.weight"
    # Bad maps are errors naming the problem.
    with pytest.raises(ValueError, match="unknown"):
        ms.load_param_into_net(Head(), d, name_map="frobnicate x")
    with pytest.raises(ValueError, match="module.bias"):
        ms.load_param_into_net(Head(), d, name_map={"module.bias": "b", "module.fc.bias": "b"})
    with pytest.raises(TypeError, match="name_map must be"):
        ms.load_param_into_net(Head(), d, name_map=3)
    with pytest.raises(OSError):
        ms.load_param_into_net(Head(), d, name_map=tmp_path / "missing.txt")
    with pytest.raises(TypeError, match="net="):
        ms.load_checkpoint(str(tmp_path / "dp.ckpt"), name_map="strip_prefix module.")


def test_skip_shape_mismatch_keeps_a_new_head(tmp_path):
    pretrained = Head(classes=10)
    ms.save_checkpoint(pretrained, str(tmp_path / "p.ckpt"))
    d = ms.load_checkpoint(str(tmp_path / "p.ckpt"))
    net = Head(classes=3)
    head = net.fc.weight.asnumpy().copy()
    with pytest.raises(ValueError, match=r"bias has shape \(3,\) in the network but shape \(10,\)"):
        ms.load_param_into_net(Head(classes=3), d)  # MindSpore refuses the whole load
    not_loaded, unused = ms.load_param_into_net(net, d, skip_shape_mismatch=True)
    assert not_loaded == ["bias", "fc.weight", "fc.bias"]
    assert unused == ["bias", "fc.weight", "fc.bias"]
    np.testing.assert_array_equal(net.backbone.weight.asnumpy(),
                                  pretrained.backbone.weight.asnumpy())
    np.testing.assert_array_equal(net.fc.weight.asnumpy(), head)  # left as it was
    net2 = Head(classes=3)
    ms.load_checkpoint(str(tmp_path / "p.ckpt"), net=net2, skip_shape_mismatch=True)
    np.testing.assert_array_equal(net2.backbone.bias.asnumpy(), pretrained.backbone.bias.asnumpy())
