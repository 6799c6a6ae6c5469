"""`cellar merge` and `cellar reshard` on MindSpore 2.10's distributed checkpoints
(tests/fixtures/mindspore/2.10/distributed): the outputs are MindSpore's own transform_checkpoints
files byte for byte; a merged .safetensors reads in the safetensors package with the values of
MindSpore's full checkpoint; bad input fails with a message naming what is wrong."""
import shutil

from support import FIXTURES, cellar, cellar_json, require

D = FIXTURES / "mindspore" / "2.10" / "distributed"


def test_merge_and_reshard_match_mindspore(tmp_path):
    out = tmp_path / "merged.ckpt"
    j = cellar_json("merge", D / "strategy_a.ckpt", D / "a", out)
    assert j["ranks"] == 4 and j["tensors"] == 6
    assert out.read_bytes() == (D / "merged" / "rank_0" / "merged0.ckpt").read_bytes()
    files = cellar_json("reshard", D / "a", tmp_path / "b", "--src-strategy", D / "strategy_a.ckpt",
                        "--dst-strategy", D / "strategy_b.ckpt", "--prefix", "b")["files"]
    assert len(files) == 2
    for k in range(2):
        rel = f"rank_{k}/b{k}.ckpt"
        assert (tmp_path / "b" / rel).read_bytes() == (D / "b" / rel).read_bytes(), rel


def test_merged_safetensors_hold_the_full_values(tmp_path):
    np = require("numpy")
    st = require("safetensors.numpy")
    cellar("merge", D / "strategy_a.ckpt", D / "a", tmp_path / "m.safetensors")
    cellar("convert", D / "full" / "rank_0" / "full.ckpt", tmp_path / "full.safetensors")
    got, want = st.load_file(tmp_path / "m.safetensors"), st.load_file(tmp_path / "full.safetensors")
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_missing_rank_and_bad_strategy_are_refused(tmp_path):
    a = tmp_path / "a"
    shutil.copytree(D / "a", a)
    shutil.rmtree(a / "rank_1")
    err = cellar("merge", D / "strategy_a.ckpt", a, tmp_path / "x.ckpt", status=1).stderr
    assert "rank_1 is missing" in err
    err = cellar("merge", D / "full" / "rank_0" / "full.ckpt", D / "a", tmp_path / "x.ckpt",
                 status=1).stderr
    assert "not a MindSpore parallel strategy file" in err and "full.ckpt" in err
    assert not (tmp_path / "x.ckpt").exists()


def test_unified_safetensors_match_mindspore(tmp_path):
    out = tmp_path / "unified"
    files = cellar_json("merge", D / "strategy_u.ckpt", D / "u", out, "--unified")["files"]
    assert [p.rsplit("/", 1)[-1] for p in files] == [
        "part0.safetensors", "param_name_map.json", "hyper_param.safetensors"]
    for name in ("part0.safetensors", "param_name_map.json", "hyper_param.safetensors"):
        assert (out / name).read_bytes() == (D / "unified" / name).read_bytes(), name


def test_optimizer_parallel_merge_matches_mindspore(tmp_path):
    out = tmp_path / "m.ckpt"
    cellar("merge", D / "strategy_opt.ckpt", D / "opt", out)
    assert out.read_bytes() == (D / "opt_merged" / "rank_0" / "opt_merged0.ckpt").read_bytes()
