// MindSpore → cellar, one check per kind of file, run on every MindSpore version's fixture folder
// (tests/fixtures/mindspore/<version>/, README.md there): each TEST_P is written once and
// instantiated for 2.10, 2.7 and 1.x; a version folder without the fixture skips, naming it.
//
// The networks (make_fixtures.py: the MLP, a two-output net, the model zoo's LeNet-5 and resnet18,
// each with its checkpoint) run in cellar's GraphCell like in MindSpore, hold the checkpoint's
// parameters bit for bit, and cellar's own LeNet-5 and resnet18 load the checkpoints and run like
// MindSpore; encrypted and external-data MindIR (mindir_extdata/) run the same.
// The op-group and padding networks (make_ops_fixtures.py, make_pad_fixtures.py,
// make_gelu_exact.py) run through cellar's GraphCell on the committed input within 1e-5 of that
// MindSpore's output, with the ops it wrote counted (a test that silently lost an op would not be
// one). Every save_checkpoint variant (variants/, enc/) reads exactly, and cellar writes the very
// bytes MindSpore wrote where those are deterministic; so do ckpt/'s files. 2.10's convert/ files
// are read by the io tests; 1.x's own files by test_mindspore_1x.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <ostream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "cellar/cellar.h"
#include "mindspore_variant_specs.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::max_abs_diff;
using cellar::testing::read_bytes;

namespace {
namespace fs = std::filesystem;

struct Version {
  std::string name;      // the folder under tests/fixtures/mindspore
  int mlp_hidden = 0;    // the MLP's hidden width in that folder (2.7's is narrower)
  int resnet_width = 0;  // resnet18w<width>.* in that folder
};
// Names the parameter in test listings (ctest's names), instead of its bytes.
void PrintTo(const Version& v, std::ostream* os) { *os << v.name; }

fs::path version_dir(const Version& v) {
  return fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore" / v.name;
}

// The parameters a MindIR file holds, by name.
ParamDict graph_parameters(const ir::Graph& g) {
  ParamDict d;
  for (const auto& init : g.initializers)
    if (init.is_parameter) d.set(g.value(init.value).name, init.data);
  return d;
}

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  return ops;
}

// Every op of `want` with exactly its count (0 when absent).
void expect_ops(const std::map<std::string, int>& got, const std::map<std::string, int>& want) {
  for (const auto& [op, count] : want) {
    auto it = got.find(op);
    EXPECT_EQ(it == got.end() ? 0 : it->second, count) << op;
  }
}

class MindSporeVersion : public ::testing::TestWithParam<Version> {
 protected:
  fs::path mindir_dir() const { return version_dir(GetParam()) / "mindir"; }
  fs::path ckpt_fixture(const std::string& name) const {
    return version_dir(GetParam()) / "ckpt" / name;
  }

  // <name>.mindir on <name>.input.npy in cellar's GraphCell, against <name>.output.npy; returns
  // the loaded graph's op counts.
  std::map<std::string, int> expect_runs_like_mindspore(const std::string& name,
                                                        double tolerance = 1e-5) {
    const fs::path dir = mindir_dir();
    const ir::Graph g = load(dir / (name + ".mindir"));
    const Tensor y = nn::GraphCell(g)(read_npy(dir / (name + ".input.npy")));
    const double diff = max_abs_diff(y, read_npy(dir / (name + ".output.npy")));
    EXPECT_LE(diff, tolerance) << name;
    std::cout << "MindSpore " << GetParam().name << " " << name
              << ".mindir: max |cellar - MindSpore| = " << diff << "\n";
    return op_counts(g);
  }
  // The issue's bound for a fixture: 1e-4 · max(1, max |MindSpore's output|).
  double relative_bound(const std::string& name) const {
    const Tensor want = read_npy(mindir_dir() / (name + ".output.npy")).to(DType::Float64);
    double m = 1;
    for (int64_t i = 0; i < want.numel(); ++i) m = std::max(m, std::fabs(want.data<double>()[i]));
    return 1e-4 * m;
  }
};

// Skips the test, loudly, when this version's folder lacks `file` (under mindir/).
#define REQUIRE_MINDIR_FIXTURE(file)                                             \
  if (!fs::exists(mindir_dir() / (file)))                                        \
  GTEST_SKIP() << "SKIPPED: MindSpore " << GetParam().name << " has no fixture " \
               << (mindir_dir() / (file)).string()

}  // namespace

TEST_P(MindSporeVersion, PoolNormActivations) {
  REQUIRE_MINDIR_FIXTURE("ops_act.mindir");
  // nn.Dropout leaves nothing in an inference graph: MindSpore drops it at export.
  expect_ops(expect_runs_like_mindspore("ops_act"), {{"AvgPool", 1},
                                                     {"BatchNorm", 1},
                                                     {"Sigmoid", 1},
                                                     {"Tanh", 1},
                                                     {"Softmax", 1},
                                                     {"LogSoftmax", 1},
                                                     {"Abs", 1},
                                                     {"GeLU", 1}});
}

// Element-wise ops beyond mindcv (make_ops_c_fixtures.py): trigonometric and hyperbolic
// functions, log1p/expm1/erfc/rsqrt, ceil/sign/square/round, Atan2; comparisons and logical ops
// on flipped copies (ReverseV2).
TEST_P(MindSporeVersion, TrigonometricRoundingAndSignOps) {
  REQUIRE_MINDIR_FIXTURE("ops_c_unary.mindir");
  expect_ops(expect_runs_like_mindspore("ops_c_unary"), {{"Tan", 1},
                                                         {"Asin", 1},
                                                         {"ACos", 1},
                                                         {"Atan", 1},
                                                         {"Sinh", 1},
                                                         {"Cosh", 1},
                                                         {"Asinh", 1},
                                                         {"Acosh", 1},
                                                         {"Atanh", 1},
                                                         {"Log1p", 1},
                                                         {"Expm1", 1},
                                                         {"Erfc", 1},
                                                         {"Rsqrt", 1},
                                                         {"Ceil", 1},
                                                         {"Sign", 1},
                                                         {"Square", 1},
                                                         {"Round", 1},
                                                         {"Atan2", 1}});
}

TEST_P(MindSporeVersion, ComparisonsLogicalOpsAndFlip) {
  REQUIRE_MINDIR_FIXTURE("ops_c_compare.mindir");
  expect_ops(expect_runs_like_mindspore("ops_c_compare"), {{"GreaterEqual", 1},
                                                           {"LessEqual", 1},
                                                           {"NotEqual", 1},
                                                           {"LogicalAnd", 1},
                                                           {"LogicalOr", 1},
                                                           {"LogicalXor", 1},
                                                           {"ReverseV2", 3}});
}

TEST_P(MindSporeVersion, ArgMinMinAndProductReductions) {
  REQUIRE_MINDIR_FIXTURE("ops_c_reduce.mindir");
  expect_ops(expect_runs_like_mindspore("ops_c_reduce"),
             {{"Argmin", 1}, {"ArgMinWithValue", 1}, {"ReduceMin", 2}, {"ReduceProd", 1}});
}

TEST_P(MindSporeVersion, ClampWithEitherBoundAbsent) {
  REQUIRE_MINDIR_FIXTURE("ops_c_clamp.mindir");
  expect_ops(expect_runs_like_mindspore("ops_c_clamp"), {{"ClampScalar", 3}});
}

// MindSpore's 3-D window primitives (make_ops_3d_fixtures.py): nn.Conv3d in every pad mode with
// strides, dilation and (split into groups by MindSpore itself) groups; MaxPool3D VALID, SAME and
// PAD with ceil_mode; AvgPool3D VALID, SAME, PAD counting and not counting the padding, ceil_mode,
// divisor_override.
TEST_P(MindSporeVersion, ThreeDConvolutionAndPooling) {
  REQUIRE_MINDIR_FIXTURE("ops_3d_conv.mindir");
  expect_ops(expect_runs_like_mindspore("ops_3d_conv", 1e-4), {{"Conv3D", 4}, {"BiasAdd", 2}});
  expect_ops(expect_runs_like_mindspore("ops_3d_pool"), {{"MaxPool3D", 3}, {"AvgPool3D", 5}});
}

// Beyond mindcv, part d (make_ops_d_fixtures.py), within 1e-4 · max(1, max |MindSpore's|): nn.LSTM
// as MindSpore writes it (one fused LSTM node per layer and direction: one layer, two
// bidirectional batch_first layers with initial states, no bias), nn.GRU (unrolled by MindSpore),
// ops.topk and mint.topk, ops.one_hot and mint's (indices out of range among them), an embedding
// lookup, number comparisons (x >= 0.5 written GreaterEqualScalar, x == 1.0 EqScalar) and ProdExt.
TEST_P(MindSporeVersion, LstmLayersAsNnLstmWritesThem) {
  REQUIRE_MINDIR_FIXTURE("ops_d_lstm.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_lstm", relative_bound("ops_d_lstm")),
             {{"LSTM", 6}, {"ReverseV2", 4}});
}

// nn.LSTM and nn.GRU with seq_length: unrolled by MindSpore, the backward direction on
// ReverseSequence, the steps past a sequence's length masked by Select.
TEST_P(MindSporeVersion, LstmAndGruWithSequenceLengths) {
  REQUIRE_MINDIR_FIXTURE("ops_d_seqlen.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_seqlen", relative_bound("ops_d_seqlen")),
             {{"ReverseSequence", 3}, {"Select", 20}, {"LSTM", 0}});
}

TEST_P(MindSporeVersion, GruUnrolledByMindSpore) {
  REQUIRE_MINDIR_FIXTURE("ops_d_gru.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_gru", relative_bound("ops_d_gru")),
             {{"MatMul", 24}, {"Sigmoid", 24}, {"Stack", 4}});
}

TEST_P(MindSporeVersion, TopKAndTopkExt) {
  REQUIRE_MINDIR_FIXTURE("ops_d_topk.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_topk", 0.0), {{"TopK", 3}, {"Neg", 2}});
  expect_ops(expect_runs_like_mindspore("ops_d_topk_ext", 0.0), {{"TopkExt", 2}});
}

TEST_P(MindSporeVersion, OneHotAndEmbeddingLookup) {
  REQUIRE_MINDIR_FIXTURE("ops_d_onehot.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_onehot", 0.0), {{"OneHot", 3}});
  expect_ops(expect_runs_like_mindspore("ops_d_embed", 0.0),
             {{"Gather", 1}, {"Argmax", 1}, {"Embedding", 1}});
}

// ops.gather_elements (GatherD) with indices from `%` on an Int64 tensor, and `%` on floats
// (RemainderTensorScalar, the sign of the divisor).
TEST_P(MindSporeVersion, GatherElementsAndRemainderByANumber) {
  REQUIRE_MINDIR_FIXTURE("ops_d_gatherd.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_gatherd", relative_bound("ops_d_gatherd")),
             {{"GatherD", 2}, {"RemainderTensorScalar", 4}});
}

TEST_P(MindSporeVersion, ScalarComparisonsAndProdExt) {
  REQUIRE_MINDIR_FIXTURE("ops_d_scalar.mindir");
  expect_ops(expect_runs_like_mindspore("ops_d_scalar", relative_bound("ops_d_scalar")),
             {{"GreaterEqualScalar", 2}, {"EqScalar", 1}, {"ReduceProd", 3}});
}

// Part e (make_ops_e_fixtures.py): ops.LSTM with proj_size (h = W_hr · (σ(o)·tanh(c)); one
// direction with bias, two without) as MindSpore's CPU kernel runs it, and mint's embedding with
// max_norm (norm_type 2 and 1) as torch defines it (MindSpore 2.10's CPU graph squares the
// elements: its output, ops_e_maxnorm.mindspore.npy, is kept for the record and differs).
TEST_P(MindSporeVersion, ProjectedLstmAndEmbeddingWithMaxNorm) {
  REQUIRE_MINDIR_FIXTURE("ops_e_lstmproj.mindir");
  expect_ops(expect_runs_like_mindspore("ops_e_lstmproj", relative_bound("ops_e_lstmproj")),
             {{"LSTM", 2}});
  expect_ops(expect_runs_like_mindspore("ops_e_maxnorm", 1e-6), {{"Embedding", 2}});
  const fs::path dir = mindir_dir();
  EXPECT_GT(max_abs_diff(read_npy(dir / "ops_e_maxnorm.mindspore.npy"),
                         read_npy(dir / "ops_e_maxnorm.output.npy")),
            0.1);
}

// Control flow (issue 12 item 6): an if/else on a tensor value, with a nested if in one branch,
// is flattened (both branches computed, Select by the condition) and runs like MindSpore on
// inputs that take either branch; a while loop loads as one WhileLoop node holding a report of
// what the file holds, and running it is a typed error naming the loop.
TEST_P(MindSporeVersion, IfElseSubGraphsRunEitherBranch) {
  REQUIRE_MINDIR_FIXTURE("ops_d_if.mindir");
  const fs::path dir = mindir_dir();
  expect_ops(expect_runs_like_mindspore("ops_d_if"), {{"Select", 2}, {"MatMul", 2}});
  const Tensor y =
      nn::GraphCell(load(dir / "ops_d_if.mindir"))(read_npy(dir / "ops_d_if.neg.input.npy"));
  EXPECT_LE(max_abs_diff(y, read_npy(dir / "ops_d_if.neg.output.npy")), 1e-5);
}

// An if that assigns two variables: both branches return a tuple, flattened element by element.
TEST_P(MindSporeVersion, IfElseReturningTuplesRunsEitherBranch) {
  REQUIRE_MINDIR_FIXTURE("ops_d_iftuple.mindir");
  const fs::path dir = mindir_dir();
  expect_ops(expect_runs_like_mindspore("ops_d_iftuple"), {{"Select", 2}});
  const Tensor y = nn::GraphCell(load(dir / "ops_d_iftuple.mindir"))(
      read_npy(dir / "ops_d_iftuple.neg.input.npy"));
  EXPECT_LE(max_abs_diff(y, read_npy(dir / "ops_d_iftuple.neg.output.npy")), 1e-5);
}

TEST_P(MindSporeVersion, WhileLoopLoadsAndRunningItNamesTheLoop) {
  REQUIRE_MINDIR_FIXTURE("ops_d_while.mindir");
  const ir::Graph g = load(mindir_dir() / "ops_d_while.mindir");
  const ir::Node* loop = nullptr;
  for (const auto& n : g.nodes)
    if (n.op == "WhileLoop") loop = &n;
  ASSERT_NE(loop, nullptr);
  const std::string report = std::get<std::string>(loop->attrs.at("report"));
  EXPECT_NE(report.find("3 sub-graphs"), std::string::npos) << report;
  EXPECT_NE(report.find("WhileNet_construct"), std::string::npos) << report;
  EXPECT_NE(report.find("calls itself"), std::string::npos) << report;
  EXPECT_NE(report.find("Partial x2, Switch x1, sub-graph call x3"), std::string::npos) << report;
  nn::GraphCell cell(g);
  try {
    cell(read_npy(mindir_dir() / "ops_d_while.input.npy"));
    FAIL() << "a while loop ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    const std::string m = e.what();
    EXPECT_NE(m.find("(WhileLoop): MindSpore's while loop over sub-graph"), std::string::npos) << m;
    EXPECT_NE(m.find(std::get<std::string>(loop->attrs.at("loop"))), std::string::npos) << m;
    EXPECT_NE(m.find("does not run loops"), std::string::npos) << m;
  }
}

TEST_P(MindSporeVersion, BroadcastArithmeticAndReductions) {
  REQUIRE_MINDIR_FIXTURE("ops_arith.mindir");
  expect_ops(expect_runs_like_mindspore("ops_arith"), {{"Add", 2},
                                                       {"Sub", 2},
                                                       {"Mul", 2},
                                                       {"Div", 1},
                                                       {"ReduceSum", 2},
                                                       {"ReduceMean", 2},
                                                       {"ExpandDims", 1}});
}

TEST_P(MindSporeVersion, MatMulsAndShapes) {
  REQUIRE_MINDIR_FIXTURE("ops_matmul.mindir");
  expect_ops(expect_runs_like_mindspore("ops_matmul"), {{"MatMul", 2},
                                                        {"BatchMatMul", 2},
                                                        {"Reshape", 2},
                                                        {"Transpose", 2},
                                                        {"ExpandDims", 1},
                                                        {"Squeeze", 1}});
}

TEST_P(MindSporeVersion, ConcatGatherTile) {
  REQUIRE_MINDIR_FIXTURE("ops_concat.mindir");
  expect_ops(expect_runs_like_mindspore("ops_concat"),
             {{"Concat", 2}, {"Gather", 2}, {"Tile", 1}, {"Abs", 1}});
}

// Padding as MindSpore writes it (make_pad_fixtures.py): MirrorPad for nn.Pad's REFLECT and
// SYMMETRIC modes and nn.ReflectionPad2d; PadV3 for nn.ConstantPad2d (a non-zero fill),
// nn.ZeroPad2d, nn.ReplicationPad1d/2d ("edge") and ops.pad (reflect, constant). All read as
// cellar's Pad.
TEST_P(MindSporeVersion, MirrorPad) {
  REQUIRE_MINDIR_FIXTURE("pad_mirror.mindir");
  expect_ops(expect_runs_like_mindspore("pad_mirror"), {{"Pad", 3}});
}

TEST_P(MindSporeVersion, PadV3) {
  REQUIRE_MINDIR_FIXTURE("pad_v3.mindir");
  expect_ops(expect_runs_like_mindspore("pad_v3"), {{"Pad", 6}});
}

// nn.GELU(approximate=False): MindSpore writes Div, Erf, Add, Mul (make_gelu_exact.py).
TEST_P(MindSporeVersion, ExactGELU) {
  REQUIRE_MINDIR_FIXTURE("gelu_exact.mindir");
  EXPECT_EQ(expect_runs_like_mindspore("gelu_exact"),
            (std::map<std::string, int>{{"Add", 1}, {"Div", 1}, {"Erf", 1}, {"Mul", 2}}));
}

// The tensor/math ops mindcv's networks need (make_ops_a_fixtures.py): StridedSlice from Python
// indexing and from ops.StridedSlice with every mask; the 2.x primitives Muls, Divs, AddExt,
// SubExt, InplaceAddExt (with its monad input), MatMulExt, SumExt, BroadcastTo, CumSum, Cos, Sin,
// FloorDiv; tuple ops Stack (of a make_list), Split, SplitWithSize, Unstack, UnstackExtView,
// ArgMaxWithValue, Identity, TensorMove, LogicalNot; Argmax's Int64 output.
TEST_P(MindSporeVersion, StridedSliceWithMasks) {
  REQUIRE_MINDIR_FIXTURE("ops_a_slice.mindir");
  expect_ops(expect_runs_like_mindspore("ops_a_slice"),
             {{"StridedSlice", 7}, {"ExpandDims", 1}, {"Concat", 1}});
}

// Negative strides: ops_a_reverse.output.npy is NumPy's result, since MindSpore 2.10 returns
// x[:, 1:3, ::-1] unreversed (its output, kept as ops_a_reverse.mindspore.npy, must differ).
TEST_P(MindSporeVersion, StridedSliceNegativeStridesFollowNumPy) {
  REQUIRE_MINDIR_FIXTURE("ops_a_reverse.mindir");
  expect_ops(expect_runs_like_mindspore("ops_a_reverse"), {{"StridedSlice", 2}});
  const fs::path dir = mindir_dir();
  if (fs::exists(dir / "ops_a_reverse.mindspore.npy")) {
    EXPECT_GT(max_abs_diff(read_npy(dir / "ops_a_reverse.mindspore.npy"),
                           read_npy(dir / "ops_a_reverse.output.npy")),
              0.1);
  }
}

TEST_P(MindSporeVersion, ExtArithmeticCumSumTrig) {
  REQUIRE_MINDIR_FIXTURE("ops_a_arith.mindir");
  expect_ops(expect_runs_like_mindspore("ops_a_arith"), {{"Muls", 1},
                                                         {"Divs", 1},
                                                         {"AddExt", 2},
                                                         {"SubExt", 1},
                                                         {"MatMulExt", 1},
                                                         {"ReduceSum", 1},
                                                         {"BroadcastTo", 1},
                                                         {"CumSum", 2},
                                                         {"Cos", 1},
                                                         {"Sin", 1},
                                                         {"FloorDiv", 2}});
}

TEST_P(MindSporeVersion, TupleOps) {
  REQUIRE_MINDIR_FIXTURE("ops_a_tuple.mindir");
  expect_ops(expect_runs_like_mindspore("ops_a_tuple"), {{"Stack", 1},
                                                         {"Split", 2},
                                                         {"Unstack", 2},
                                                         {"Identity", 4},
                                                         {"ArgMaxWithValue", 1},
                                                         {"LogicalNot", 1},
                                                         {"Select", 1}});
}

TEST_P(MindSporeVersion, ArgmaxInt64) {
  REQUIRE_MINDIR_FIXTURE("ops_a_argmax.mindir");
  expect_ops(expect_runs_like_mindspore("ops_a_argmax"), {{"Argmax", 1}});
}

// The activations and normalisations mindcv's networks need (make_ops_b_fixtures.py): the
// Python primitives (Softsign, Mish, SeLU, Softplus) and the 2.x primitive functions (SiLU,
// HSigmoid, Elu with alpha as an input, SoftplusExt, PReLU); LayerNorm's and GroupNorm's three
// outputs, GroupNorm's arguments interleaving constants between the tensors.
TEST_P(MindSporeVersion, ActivationsOfIssue12) {
  REQUIRE_MINDIR_FIXTURE("ops_b_act.mindir");
  expect_ops(expect_runs_like_mindspore("ops_b_act"), {{"SiLU", 1},
                                                       {"HSigmoid", 1},
                                                       {"Softsign", 1},
                                                       {"Mish", 1},
                                                       {"SeLU", 1},
                                                       {"Elu", 1},
                                                       {"Softplus", 2},
                                                       {"PReLU", 2}});
}

// MishExt, SeLUExt, EluExt and LeakyReLUExt as MindSpore 2.10 writes them; it has no CPU kernel
// for them, so the recorded output is NumPy's (see the script).
TEST_P(MindSporeVersion, ExtActivationsMatchNumPy) {
  REQUIRE_MINDIR_FIXTURE("ops_b_ext.mindir");
  expect_ops(expect_runs_like_mindspore("ops_b_ext"),
             {{"Mish", 1}, {"SeLU", 1}, {"Elu", 1}, {"LeakyReLU", 1}});
}

TEST_P(MindSporeVersion, LayerNormAndGroupNormWithTheirStatistics) {
  REQUIRE_MINDIR_FIXTURE("ops_b_norm.mindir");
  expect_ops(expect_runs_like_mindspore("ops_b_norm"), {{"LayerNorm", 3}, {"GroupNorm", 2}});
}

// L2Normalize and LpNorm (p 1, 2, 3; keep_dims; an epsilon that floors the norm; ops.norm), the
// Python primitives with their arguments as attributes.
TEST_P(MindSporeVersion, LpNormAndL2Normalize) {
  REQUIRE_MINDIR_FIXTURE("ops_b_lpnorm.mindir");
  expect_ops(expect_runs_like_mindspore("ops_b_lpnorm"), {{"L2Normalize", 2}, {"LpNorm", 4}});
}

// ResizeBilinearV2 (align_corners, half_pixel_centers, neither; up and down; ops.interpolate),
// ResizeNearestNeighbor (align_corners and not) and ResizeNearestNeighborV2 (ops.interpolate).
TEST_P(MindSporeVersion, ResizeBilinearAndNearest) {
  REQUIRE_MINDIR_FIXTURE("ops_b_resize.mindir");
  expect_ops(expect_runs_like_mindspore("ops_b_resize"),
             {{"ResizeBilinearV2", 7}, {"ResizeNearestNeighbor", 4}});
}

// What the full mindcv zoo needed beyond ops a and b (make_ops_zoo_fixtures.py): Cast to
// Float16 and back (HRNet) with float16's rounding, subnormals and a Float16 → Int32 cast; and
// MindSpore's implicit dtype conversion of constants (BiT's Tensor.var: Div of a Float32 tensor
// by an Int32 constant; Add and Mul with Int32 and Bool constants), which MindSpore applies when
// it loads the file and cellar's reader therefore applies too.
TEST_P(MindSporeVersion, CastToFloat16AndBack) {
  REQUIRE_MINDIR_FIXTURE("ops_zoo_cast16.mindir");
  expect_ops(expect_runs_like_mindspore("ops_zoo_cast16", 0.0), {{"Cast", 9}});
}

TEST_P(MindSporeVersion, ConstantsTakeTheDTypeOfTheirGroup) {
  REQUIRE_MINDIR_FIXTURE("ops_zoo_promote.mindir");
  const auto ops = expect_runs_like_mindspore("ops_zoo_promote");
  expect_ops(ops, {{"Div", 3}, {"Add", 2}, {"Mul", 1}, {"Cast", 0}});
}

// A tensor index into a tensor (Swin V2): Select(LessScalar(idx, 0), idx + n, idx) and Gather,
// Int32 and Int64 indices; LessScalar by a fractional number on floats and integers.
TEST_P(MindSporeVersion, TensorIndexWithNegativeEntries) {
  REQUIRE_MINDIR_FIXTURE("ops_zoo_index.mindir");
  expect_ops(expect_runs_like_mindspore("ops_zoo_index", 0.0),
             {{"LessScalar", 5}, {"Select", 2}, {"Gather", 2}});
}

// ---- networks ----

TEST_P(MindSporeVersion, MLPRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("mlp.mindir");
  const ir::Graph g = load(mindir_dir() / "mlp.mindir");
  EXPECT_EQ(op_counts(g), (std::map<std::string, int>{
                              {"BiasAdd", 3}, {"Flatten", 1}, {"MatMul", 3}, {"ReLU", 2}}));
  const int64_t h = GetParam().mlp_hidden;
  EXPECT_EQ(graph_parameters(g).at("dense_relu_sequential.2.weight").data().shape(), (Shape{h, h}));
  const Tensor y =
      nn::GraphCell(g)(cellar::testing::read_f32(mindir_dir() / "mlp.input.f32", {1, 1, 28, 28}));
  EXPECT_LE(max_abs_diff(y, cellar::testing::read_f32(mindir_dir() / "mlp.output.f32", {1, 10})),
            1e-5);
}

TEST_P(MindSporeVersion, TwoOutputNetRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("tuple.mindir");
  using cellar::testing::read_f32;
  const fs::path dir = mindir_dir();
  const ir::Graph g = load(dir / "tuple.mindir");
  ASSERT_EQ(g.inputs.size(), 2u);
  ASSERT_EQ(g.outputs.size(), 2u);
  nn::GraphCell cell(g);
  const Value out = cell({Value(read_f32(dir / "tuple.input0.f32", {6})),
                          Value(read_f32(dir / "tuple.input1.f32", {2, 3}))});
  ASSERT_TRUE(out.is_tuple());
  EXPECT_LE(max_abs_diff(out.tuple().at(0).tensor(), read_f32(dir / "tuple.output0.f32", {2, 3})),
            1e-5);
  EXPECT_LE(max_abs_diff(out.tuple().at(1).tensor(), read_f32(dir / "tuple.output1.f32", {2, 3})),
            1e-5);
}

// <name>.mindir takes <name>.input.npy's shape, holds exactly <name>.ckpt's parameters (the same
// names, dtypes, shapes and bits: save_checkpoint(net) and export(net) of one network), and runs
// like MindSpore.
#define EXPECT_NETWORK_LIKE_MINDSPORE(name)                                              \
  do {                                                                                   \
    const fs::path dir = mindir_dir();                                                   \
    const ir::Graph g = load(dir / ((name) + std::string(".mindir")));                   \
    ASSERT_EQ(g.inputs.size(), 1u);                                                      \
    EXPECT_EQ(g.value(g.inputs[0]).shape,                                                \
              read_npy(dir / ((name) + std::string(".input.npy"))).shape());             \
    cellar::testing::expect_same(graph_parameters(g),                                    \
                                 load_checkpoint(dir / ((name) + std::string(".ckpt"))), \
                                 cellar::testing::Order::kAny);                          \
    expect_runs_like_mindspore(name);                                                    \
  } while (0)

TEST_P(MindSporeVersion, LeNet5MindIRRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("lenet5.mindir");
  EXPECT_NETWORK_LIKE_MINDSPORE(std::string("lenet5"));
  EXPECT_EQ(op_counts(load(mindir_dir() / "lenet5.mindir")),
            (std::map<std::string, int>{{"BiasAdd", 3},
                                        {"Conv2D", 2},
                                        {"Flatten", 1},
                                        {"MatMul", 3},
                                        {"MaxPool", 2},
                                        {"ReLU", 4}}));
}

// The model zoo's resnet18 (res_base: Pad + "valid" max-pool stem), random BatchNorm statistics.
TEST_P(MindSporeVersion, ResNet18MindIRRunsLikeMindSpore) {
  const std::string name = "resnet18w" + std::to_string(GetParam().resnet_width);
  REQUIRE_MINDIR_FIXTURE(name + ".mindir");
  EXPECT_NETWORK_LIKE_MINDSPORE(name);
  const auto ops = op_counts(load(mindir_dir() / (name + ".mindir")));
  EXPECT_EQ(ops.at("Pad"), 1);
  EXPECT_EQ(ops.at("MaxPool"), 1);
  EXPECT_EQ(ops.at("Conv2D"), 20);
}

// cellar's own models (include/cellar/models/) load MindSpore's checkpoint strictly and run
// eagerly like MindSpore.
#define EXPECT_EAGER_LIKE_MINDSPORE(net, name)                                           \
  do {                                                                                   \
    const fs::path base = mindir_dir() / (name);                                         \
    const auto [param_not_load, ckpt_not_load] =                                         \
        load_param_into_net(net, load_checkpoint(base.string() + ".ckpt"), true);        \
    EXPECT_TRUE(param_not_load.empty()) << param_not_load;                               \
    EXPECT_TRUE(ckpt_not_load.empty()) << ckpt_not_load;                                 \
    (net).set_train(false);                                                              \
    const Tensor y = (net)(read_npy(base.string() + ".input.npy"));                      \
    EXPECT_LE(max_abs_diff(y, read_npy(base.string() + ".output.npy")), 1e-5) << (name); \
  } while (0)

TEST_P(MindSporeVersion, CellarsLeNet5LoadsTheCheckpointAndRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("lenet5.ckpt");
  auto net = models::LeNet5();
  EXPECT_EAGER_LIKE_MINDSPORE(*net, std::string("lenet5"));
}

TEST_P(MindSporeVersion, CellarsResNet18LoadsTheCheckpointAndRunsLikeMindSpore) {
  const int w = GetParam().resnet_width;
  REQUIRE_MINDIR_FIXTURE("resnet18w" + std::to_string(w) + ".ckpt");
  auto net = models::resnet18({.num_classes = 10, .width = w});
  EXPECT_EAGER_LIKE_MINDSPORE(*net, "resnet18w" + std::to_string(w));
}

// mindir_extdata/ (make_fixtures.py there): a Dense(8, 5)-ReLU-Dense(5, 3) net exported encrypted
// in each mode, in the external-data layout, and both.
TEST_P(MindSporeVersion, EncryptedAndExternalDataRunLikeMindSpore) {
  const fs::path dir = version_dir(GetParam()) / "mindir_extdata";
  if (!fs::exists(dir / "net.input.f32"))
    GTEST_SKIP() << "SKIPPED: MindSpore " << GetParam().name << " has no fixture " << dir.string();
  const std::string key16 = "cellar-mindir-16", key32 = "cellar-mindir-key-32-bytes-long!";
  const Tensor x = cellar::testing::read_f32(dir / "net.input.f32", {2, 8});
  const Tensor want = cellar::testing::read_f32(dir / "net.output.f32", {2, 3});
  struct Case {
    const char* file;
    std::string key;
    const char* mode;
  };
  for (const Case& c :
       {Case{"gcm.mindir", key16, "AES-GCM"}, Case{"gcm32.mindir", key32, "AES-GCM"},
        Case{"cbc.mindir", key16, "AES-CBC"}, Case{"sm4.mindir", key16, "SM4-CBC"},
        Case{"encsplit_graph.mindir", key16, "AES-GCM"}, Case{"split_graph.mindir", "", ""}}) {
    SCOPED_TRACE(c.file);
    const ir::Graph g = c.key.empty() ? load(dir / c.file)
                                      : load(dir / c.file, {.dec_key = c.key, .dec_mode = c.mode});
    EXPECT_EQ(graph_parameters(g).size(), 4u);
    EXPECT_LE(max_abs_diff(nn::GraphCell(g)(x), want), 1e-5);
  }
  // Without the key: a typed error naming the file, not garbage.
  try {
    load(dir / "gcm.mindir");
    ADD_FAILURE() << "an encrypted MindIR loaded without a key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCrypto);
    EXPECT_NE(std::string(e.what()).find("gcm.mindir"), std::string::npos) << e.what();
  }
}

// ---- checkpoints: every variant of save_checkpoint (variants/make_fixtures.py) ----

namespace {

// The tensor entries `d` plus the append_dict values of APPEND (as MindSpore stores them: int →
// Int64 scalar, float → Float32 scalar, bool → Bool scalar, str → String).
ParamDict with_append(ParamDict d, bool with_strings = true) {
  for (const auto& [k, v] : cellar::testing::variants::append(with_strings)) {
    std::visit(
        [&, key = k](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>)
            d.set(key, Tensor::scalar<int64_t>(x));
          else if constexpr (std::is_same_v<T, double>)
            d.set(key, Tensor::scalar<float>(static_cast<float>(x)));
          else if constexpr (std::is_same_v<T, bool>)
            d.set(key, Tensor::scalar<bool>(x));
          else
            d.set(key, Tensor::from_string(x));
        },
        v);
  }
  return d;
}

bool choice(const std::string& name) { return name.rfind("u.", 0) != 0; }

}  // namespace

#define REQUIRE_FIXTURE(path) \
  if (!fs::exists(path))      \
  GTEST_SKIP() << "SKIPPED: MindSpore " << GetParam().name << " has no fixture " << (path).string()

TEST_P(MindSporeVersion, VariantsReadExactly) {
  using namespace cellar::testing::variants;
  using cellar::testing::expect_same;
  using cellar::testing::Order;
  const fs::path dir = version_dir(GetParam()) / "variants";
  REQUIRE_FIXTURE(dir / "all_dtypes.ckpt");
  LoadOptions crc;
  crc.crc_check = true;
  expect_same(load_checkpoint(dir / "all_dtypes.ckpt"), entries());
  expect_same(load_checkpoint(dir / "all_dtypes_crc.ckpt", crc), entries());
  expect_same(load_checkpoint(dir / "choice.ckpt"), entries(true, true));
  expect_same(load_checkpoint(dir / "append.ckpt"), with_append(entries()));
  expect_same(load_checkpoint(dir / "append_crc.ckpt", crc), with_append(entries()));
  expect_same(load_checkpoint(dir / "async.ckpt"), entries(false));
  expect_same(load_checkpoint(dir / "all_dtypes.safetensors"), entries(false), Order::kAny);
  expect_same(load_checkpoint(dir / "all_dtypes_crc.safetensors", crc), entries(false),
              Order::kAny);
  expect_same(load_checkpoint(dir / "choice.safetensors"), entries(false, true), Order::kAny);
  expect_same(load_checkpoint(dir / "append.safetensors"), with_append(entries(false), false),
              Order::kAny);
}

TEST_P(MindSporeVersion, VariantsAppendDictInsideEachEncryptionMode) {
  const fs::path dir = version_dir(GetParam()) / "variants";
  REQUIRE_FIXTURE(dir / "append_gcm.ckpt");
  for (const auto& [f, mode] :
       {std::pair{"append_gcm.ckpt", "AES-GCM"}, std::pair{"append_cbc.ckpt", "AES-CBC"},
        std::pair{"append_sm4.ckpt", "SM4-CBC"}}) {
    SCOPED_TRACE(f);
    LoadOptions o;
    o.dec_key = "cellar-aes-key16";  // KEYS[16] of variants/make_fixtures.py
    o.dec_mode = mode;
    cellar::testing::expect_same(load_checkpoint(dir / f, o),
                                 with_append(cellar::testing::variants::entries()));
  }
}

// Where MindSpore's bytes are deterministic (all but encryption's random IVs), cellar writes them.
TEST_P(MindSporeVersion, VariantsWrittenByteForByte) {
  using namespace cellar::testing::variants;
  const fs::path dir = version_dir(GetParam()) / "variants";
  REQUIRE_FIXTURE(dir / "all_dtypes.ckpt");
  cellar::testing::TempDir tmp;
  SaveOptions crc;
  crc.crc_check = true;
  SaveOptions chooser;
  chooser.choice_func = choice;
  SaveOptions app;
  app.append_dict = append();
  SaveOptions app_crc = app;
  app_crc.crc_check = true;
  SaveOptions async;
  async.async_save = true;
  SaveOptions st;
  st.format = CheckpointFormat::kSafetensors;
  SaveOptions st_crc = st;
  st_crc.crc_check = true;
  SaveOptions st_choice = st;
  st_choice.choice_func = choice;
  SaveOptions st_app = st;
  st_app.append_dict = append(false);
  struct Case {
    const char* file;
    ParamDict params;
    SaveOptions options;
  };
  std::vector<Case> cases = {
      {"all_dtypes.ckpt", entries(), {}},
      {"all_dtypes_crc.ckpt", entries(), crc},
      {"choice.ckpt", entries(), chooser},
      {"append.ckpt", entries(), app},
      {"append_crc.ckpt", entries(), app_crc},
      {"async.ckpt", entries(false), async},
      {"all_dtypes.safetensors", entries(false), st},
      {"all_dtypes_crc.safetensors", entries(false), st_crc},
      {"choice.safetensors", entries(false), st_choice},
      {"append.safetensors", entries(false), st_app},
  };
  // bfloat16 in safetensors and async_save: only MindSpores whose numpy can (2.7, not 2.10).
  if (fs::exists(dir / "bf16.safetensors")) {
    SaveOptions st_app_bf16 = st;
    st_app_bf16.append_dict = append(false);
    cases.push_back({"bf16.safetensors", entries(), st});
    cases.push_back({"bf16_choice.safetensors", entries(), st_choice});
    cases.push_back({"bf16_append.safetensors", entries(), st_app_bf16});
    cases.push_back({"bf16_async.ckpt", entries(), async});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    save_checkpoint(c.params, tmp / c.file, c.options).get();
    const auto ours = read_bytes(tmp / c.file), theirs = read_bytes(dir / c.file);
    if (std::string(c.file) == "all_dtypes_crc.safetensors") {
      // MindSpore's metadata is a HashMap: "crc_num" and "format" come in either order. Same size,
      // and every byte after the metadata object (which closes at the first '}') the same.
      ASSERT_EQ(ours.size(), theirs.size());
      const auto end = std::find(ours.begin(), ours.end(), std::byte{'}'}) - ours.begin();
      EXPECT_TRUE(std::equal(ours.begin() + end, ours.end(), theirs.begin() + end));
      // The CRC itself, wherever it sits in the metadata: the same value.
      auto crc_num = [](const std::vector<std::byte>& b) {
        const std::string h(reinterpret_cast<const char*>(b.data()), b.size());
        const size_t k = h.find("\"crc_num\"");
        EXPECT_NE(k, std::string::npos);
        if (k == std::string::npos) return std::string();
        const size_t open = h.find('"', h.find(':', k)) + 1;
        return h.substr(open, h.find('"', open) - open);
      };
      EXPECT_EQ(crc_num(ours), crc_num(theirs));
      EXPECT_FALSE(crc_num(theirs).empty());
      continue;
    }
    EXPECT_EQ(ours, theirs);
  }
}

TEST_P(MindSporeVersion, VariantsWithBFloat16InSafetensorsAndAsyncSave) {
  // 2.10 (with its numpy) cannot put bfloat16 into safetensors or async_save; 2.7 can.
  using namespace cellar::testing::variants;
  using cellar::testing::Order;
  const fs::path dir = version_dir(GetParam()) / "variants";
  REQUIRE_FIXTURE(dir / "bf16.safetensors");
  cellar::testing::expect_same(load_checkpoint(dir / "bf16_async.ckpt"), entries());
  cellar::testing::expect_same(load_checkpoint(dir / "bf16.safetensors"), entries(), Order::kAny);
  cellar::testing::expect_same(load_checkpoint(dir / "bf16_choice.safetensors"),
                               entries(true, true), Order::kAny);
  cellar::testing::expect_same(load_checkpoint(dir / "bf16_append.safetensors"),
                               with_append(entries(), false), Order::kAny);
  EXPECT_EQ(load_checkpoint(dir / "bf16.safetensors").at("t.bfloat16").data().dtype(),
            DType::BFloat16);
}

// enc/make_fixtures.py: four parameters plain and encrypted with every mode and key length.
TEST_P(MindSporeVersion, EncryptedCheckpointsEveryModeAndKeyLength) {
  const fs::path dir = version_dir(GetParam()) / "enc";
  REQUIRE_FIXTURE(dir / "plain.ckpt");
  ParamDict want;
  std::vector<float> w(24);
  for (int i = 0; i < 24; ++i) w[i] = static_cast<float>(i - 12) / 8;
  want.set("conv.weight", Tensor::from_vector<float>(w, {2, 3, 2, 2}));
  want.set("conv.bias", Tensor::from_vector<float>({0.25f, -0.5f}, {2}));
  std::vector<float> fc(12);
  for (int i = 0; i < 12; ++i) fc[i] = static_cast<float>(i);
  want.set("fc.weight", Tensor::from_vector<float>(fc, {3, 4}).to(DType::Float16));
  want.set("step", Tensor::from_vector<int64_t>({123456789}, {1}));
  cellar::testing::expect_same(load_checkpoint(dir / "plain.ckpt"), want);
  const std::map<int, std::string> keys = {{16, "cellar-aes-key16"},
                                           {24, "cellar-aes-key-24-bytes!"},
                                           {32, "cellar-aes-key-32-bytes-long-ok!"}};
  struct Case {
    std::string file, mode;
    int key;
  };
  std::vector<Case> cases;
  for (int n : {16, 24, 32}) {
    cases.push_back({"gcm" + std::to_string(n) + ".ckpt", "AES-GCM", n});
    cases.push_back({"cbc" + std::to_string(n) + ".ckpt", "AES-CBC", n});
  }
  cases.push_back({"sm4.ckpt", "SM4-CBC", 16});
  // enc_key with crc_check=True: the crc_num trailer after the ciphertext, which MindSpore then
  // refuses to load itself; cellar drops the trailer.
  cases.push_back({"gcm16_crc.ckpt", "AES-GCM", 16});
  cases.push_back({"cbc16_crc.ckpt", "AES-CBC", 16});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    LoadOptions o;
    o.dec_key = keys.at(c.key);
    o.dec_mode = c.mode;
    cellar::testing::expect_same(load_checkpoint(dir / c.file, o), want);
  }
}

// ---- checkpoints: ckpt/make_ckpt_fixtures.py (one of every dtype, a CRC trailer, append_dict)
// ----

namespace {

Tensor bf16_of(std::vector<float> v) {
  Tensor t = Tensor::from_vector<float>(v, Shape{static_cast<int64_t>(v.size())});
  return t.to(DType::BFloat16);
}

// The entries make_ckpt_fixtures.py saves, built in C++.
ParamDict ckpt_entries() {
  ParamDict d;
  d.set("w.f32", Tensor::from_vector<float>({0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3}));
  d.set("b.f16", Tensor::from_vector<float>({1.5f, -2.0f, 65504.0f}, {3}).to(DType::Float16));
  d.set("c.f64", Tensor::from_vector<double>({0.1, -0.2}, {2, 1}));
  d.set("i.i64", Tensor::from_vector<int64_t>({1, -2, 3, int64_t{1} << 40}, {4}));
  d.set("i.i32", Tensor::from_vector<int32_t>({7}, {1}));
  d.set("i.i8", Tensor::from_vector<int8_t>({-128, 127}, {2}));
  d.set("u.u8", Tensor::from_vector<uint8_t>({0, 255}, {2}));
  d.set("m.bool", Tensor::from_vector<bool>({true, false, true}, {3}));
  d.set("s.scalar", Tensor::scalar<float>(0.5f));
  d.set("bf.bf16", bf16_of({1.0f, -3.0f}));
  return d;
}
}  // namespace

TEST_P(MindSporeVersion, CkptReadsEveryDTypeMindSporeWrote) {
  REQUIRE_FIXTURE(ckpt_fixture("dtypes.ckpt"));
  cellar::testing::expect_same(load_checkpoint(ckpt_fixture("dtypes.ckpt")), ckpt_entries());
}

TEST_P(MindSporeVersion, CkptWritesTheSameBytesAsMindSpore) {
  REQUIRE_FIXTURE(ckpt_fixture("dtypes.ckpt"));
  cellar::testing::TempDir dir;
  save_checkpoint(ckpt_entries(), dir / "dtypes.ckpt");
  EXPECT_EQ(read_bytes(dir / "dtypes.ckpt"), read_bytes(ckpt_fixture("dtypes.ckpt")));
}

TEST_P(MindSporeVersion, CkptCrcTrailerMatchesMindSpore) {
  REQUIRE_FIXTURE(ckpt_fixture("crc.ckpt"));
  ParamDict two;
  int i = 0;
  for (const auto& [name, p] : ckpt_entries())
    if (i++ < 2) two.set(name, p.data());
  cellar::testing::TempDir dir;
  save_checkpoint(two, dir / "crc.ckpt", {.crc_check = true});
  EXPECT_EQ(read_bytes(dir / "crc.ckpt"), read_bytes(ckpt_fixture("crc.ckpt")));
  ParamDict back = load_checkpoint(ckpt_fixture("crc.ckpt"), {.crc_check = true});
  EXPECT_EQ(back.keys(), (std::vector<std::string>{"w.f32", "b.f16"}));
}

TEST_P(MindSporeVersion, CkptAppendDictMatchesMindSpore) {
  REQUIRE_FIXTURE(ckpt_fixture("append.ckpt"));
  ParamDict one;
  one.set("w.f32", ckpt_entries().at("w.f32").data());
  cellar::testing::TempDir dir;
  SaveOptions opt;
  opt.append_dict = {
      {"epoch_num", int64_t{5}}, {"lr", 0.01}, {"flag", true}, {"note", std::string("héllo")}};
  save_checkpoint(one, dir / "append.ckpt", opt);
  EXPECT_EQ(read_bytes(dir / "append.ckpt"), read_bytes(ckpt_fixture("append.ckpt")));
  ParamDict back = load_checkpoint(ckpt_fixture("append.ckpt"));
  EXPECT_EQ(back.at("epoch_num").data().dtype(), DType::Int64);
  EXPECT_EQ(back.at("epoch_num").data().shape(), Shape{});
  EXPECT_EQ(back.at("epoch_num").data().item(), 5);
  EXPECT_EQ(back.at("lr").data().dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(static_cast<float>(back.at("lr").data().item()), 0.01f);
  EXPECT_EQ(back.at("flag").data().dtype(), DType::Bool);
  EXPECT_EQ(back.at("note").data().string_value(), "héllo");
}

// Names are protobuf strings: MindSpore writes control characters in them and reads them back;
// cellar reads what it wrote and writes the same bytes.
TEST_P(MindSporeVersion, CkptNamesWithControlCharactersAsMindSporeWritesThem) {
  REQUIRE_FIXTURE(ckpt_fixture("names.ckpt"));
  const std::vector<std::string> names = {"tab\there", "esc\x1b[2J", "line\nbreak", "del\x7f"};
  ParamDict want;
  for (size_t i = 0; i < names.size(); ++i)
    want.set(names[i], Tensor::from_vector<float>({static_cast<float>(i), -1.0f}, {2}));
  cellar::testing::expect_same(load_checkpoint(ckpt_fixture("names.ckpt")), want);
  cellar::testing::TempDir dir;
  save_checkpoint(want, dir / "names.ckpt");
  EXPECT_EQ(read_bytes(dir / "names.ckpt"), read_bytes(ckpt_fixture("names.ckpt")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MindSporeVersion,
                         ::testing::Values(Version{"2.10", 512, 8}, Version{"2.7", 32, 4},
                                           Version{"1.x"}),
                         [](const auto& param_info) {
                           std::string n = "v" + param_info.param.name;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });
