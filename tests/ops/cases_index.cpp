// Cases of the selection rows beyond mindcv (issue 12 item 4): TopK and TopkExt (the k most
// extreme along an axis, ties to the lower position, NaN the largest), OneHot (indices out of
// range, negative ones too, give off_value all along the new axis), ReverseSequence (a prefix of
// each sequence reversed), Embedding (rows of a table) and GatherD (torch.gather).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <variant>
#include <vector>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

// The k most extreme along `axis` by a stable sort on (value, position); NaN counts as largest.
OpReference topk_ref(int64_t k, int64_t axis, bool largest, DType index) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]);
    const auto ax = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(s.rank()) : axis);
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < s.rank(); ++d)
      if (d < ax)
        outer *= s[d];
      else if (d > ax)
        inner *= s[d];
    const int64_t n = s[ax];
    std::vector<int64_t> dims = s.dims();
    dims[ax] = k;
    std::vector<double> vals, idxs(static_cast<size_t>(outer * k * inner));
    vals.resize(idxs.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        std::vector<int64_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        auto at = [&](int64_t j) { return x[static_cast<size_t>((o * n + j) * inner + i)]; };
        auto key = [&](int64_t j) {
          const double v = at(j);
          return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
        };
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          const bool na = std::isnan(at(a)), nb = std::isnan(at(b));
          if (na != nb) return largest ? na : nb;
          return largest ? key(a) > key(b) : key(a) < key(b);
        });
        for (int64_t j = 0; j < k; ++j) {
          const auto to = static_cast<size_t>((o * k + j) * inner + i);
          vals[to] = at(order[static_cast<size_t>(j)]);
          idxs[to] = static_cast<double>(order[static_cast<size_t>(j)]);
        }
      }
    return std::vector<Tensor>{from_doubles(vals, Shape(dims), in[0].dtype()),
                               from_doubles(idxs, Shape(dims), index)};
  };
}

OpReference one_hot_ref(int64_t depth, int64_t axis) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto idx = as_doubles(in[0]);
    const double on = as_doubles(in[1])[0], off = as_doubles(in[2])[0];
    const int64_t r = static_cast<int64_t>(s.rank());
    const int64_t a = axis == -1 ? r : axis;
    int64_t outer = 1, inner = 1;
    std::vector<int64_t> dims;
    for (int64_t d = 0; d <= r; ++d) {
      if (d == a) dims.push_back(depth);
      if (d < r) {
        dims.push_back(s[static_cast<size_t>(d)]);
        (d < a ? outer : inner) *= s[static_cast<size_t>(d)];
      }
    }
    std::vector<double> y;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < depth; ++k)
        for (int64_t i = 0; i < inner; ++i)
          y.push_back(idx[static_cast<size_t>(o * inner + i)] == static_cast<double>(k) ? on : off);
    return std::vector<Tensor>{from_doubles(y, Shape(dims), in[1].dtype())};
  };
}

// ReverseSequence: y[.., t, .., b, ..] = x[.., len[b] - 1 - t, .., b, ..] for t < len[b].
OpReference reverse_sequence_ref(size_t seq_dim, size_t batch_dim) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]), lens = as_doubles(in[1]);
    std::vector<double> y(x.size());
    std::vector<int64_t> stride(s.rank(), 1);
    for (size_t d = s.rank() - 1; d > 0; --d) stride[d - 1] = stride[d] * s[d];
    for (int64_t i = 0; i < s.numel(); ++i) {
      const int64_t t = (i / stride[seq_dim]) % s[seq_dim];
      const auto len =
          static_cast<int64_t>(lens[static_cast<size_t>((i / stride[batch_dim]) % s[batch_dim])]);
      const int64_t from = t < len ? i + (len - 1 - 2 * t) * stride[seq_dim] : i;
      y[static_cast<size_t>(i)] = x[static_cast<size_t>(from)];
    }
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype())};
  };
}

// Embedding: the table's rows at the indices.
// With max_norm: each looked-up row whose norm_type-norm exceeds max_norm, times
// max_norm / (norm + 1e-7) (torch.nn.functional.embedding's definition).
std::vector<Tensor> embedding_max_norm_ref(const std::vector<Tensor>& in, const ir::Attrs& a);

std::vector<Tensor> embedding_ref(const std::vector<Tensor>& in, const ir::Attrs&) {
  const auto idx = as_doubles(in[0]), w = as_doubles(in[1]);
  const int64_t dim = in[1].shape()[1];
  std::vector<double> y;
  for (double i : idx)
    for (int64_t k = 0; k < dim; ++k)
      y.push_back(w[static_cast<size_t>(static_cast<int64_t>(i) * dim + k)]);
  std::vector<int64_t> dims = in[0].shape().dims();
  dims.push_back(dim);
  return {from_doubles(y, Shape(dims), in[1].dtype())};
}

std::vector<Tensor> embedding_max_norm_ref(const std::vector<Tensor>& in, const ir::Attrs& a) {
  const Tensor y = embedding_ref(in, a)[0];
  auto v = as_doubles(y);
  const double max_norm = std::get<double>(a.at("max_norm"));
  const double p = a.count("norm_type") ? std::get<double>(a.at("norm_type")) : 2.0;
  const int64_t dim = in[1].shape()[1];
  for (size_t r = 0; r + static_cast<size_t>(dim) <= v.size(); r += static_cast<size_t>(dim)) {
    double norm = 0;
    for (int64_t k = 0; k < dim; ++k) {
      const double e = std::fabs(v[r + static_cast<size_t>(k)]);
      norm = std::isinf(p) ? std::max(norm, e) : norm + std::pow(e, p);
    }
    if (!std::isinf(p)) norm = std::pow(norm, 1 / p);
    if (norm > max_norm)
      for (int64_t k = 0; k < dim; ++k) v[r + static_cast<size_t>(k)] *= max_norm / (norm + 1e-7);
  }
  return {from_doubles(v, y.shape(), y.dtype())};
}

// GatherD: y[p] = x[p with axis `dim` replaced by index[p]], p over index's positions.
OpReference gather_d_ref(size_t dim) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape &xs = in[0].shape(), &is = in[1].shape();
    const auto x = as_doubles(in[0]), idx = as_doubles(in[1]);
    std::vector<double> y;
    for (int64_t i = 0; i < is.numel(); ++i) {
      int64_t rest = i, from = 0, stride = 1;
      std::vector<int64_t> pos(is.rank());
      for (size_t k = is.rank(); k-- > 0;) {
        pos[k] = rest % is[k];
        rest /= is[k];
      }
      pos[dim] = static_cast<int64_t>(idx[static_cast<size_t>(i)]);
      for (size_t k = xs.rank(); k-- > 0;) {
        from += pos[k] * stride;
        stride *= xs[k];
      }
      y.push_back(x[static_cast<size_t>(from)]);
    }
    return std::vector<Tensor>{from_doubles(y, is, in[0].dtype())};
  };
}

const OpCaseTable kIndex([] {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = uniform({2, 3, 5}, 4101);
  const Tensor ties = values({1, 3, 3, nan, 0, 3, 2, 2, 1, 1}, {2, 5});
  const Tensor ints = values({4, -1, 7, 7, 0, 2}, {2, 3}, DType::Int64);
  const Tensor idx = values({0, 4, -1, 5, 2, 3}, {2, 3}, DType::Int32);
  const Tensor on = values({2.5}, {}), off = values({-1}, {});
  std::vector<OpCase> c = {
      {.op = "TopK",
       .label = "last_axis",
       .inputs = {x},
       .attrs = {{"k", int64_t{2}}, {"sorted", true}},
       .reference = topk_ref(2, -1, true, DType::Int32)},
      {.op = "TopK",
       .label = "ties_and_nan",
       .inputs = {ties},
       .attrs = {{"k", int64_t{4}}},
       .reference = topk_ref(4, -1, true, DType::Int32)},
      {.op = "TopK",
       .label = "int64_all",
       .inputs = {ints},
       .attrs = {{"k", int64_t{3}}},
       .reference = topk_ref(3, -1, true, DType::Int32)},
      {.op = "TopK",
       .label = "k_zero",
       .inputs = {x},
       .attrs = {{"k", int64_t{0}}},
       .reference = topk_ref(0, -1, true, DType::Int32)},
      {.op = "TopK",
       .label = "k_too_large",
       .inputs = {x},
       .attrs = {{"k", int64_t{6}}},
       .error = "k = 6 is outside [0, 5]"},
      {.op = "TopK",
       .label = "scalar_refused",
       .inputs = {values({1}, {})},
       .attrs = {{"k", int64_t{1}}},
       .error = "rank >= 1"},
      {.op = "TopkExt",
       .label = "dim1_smallest",
       .inputs = {x},
       .attrs = {{"k", int64_t{2}}, {"dim", int64_t{1}}, {"largest", false}, {"sorted", true}},
       .reference = topk_ref(2, 1, false, DType::Int64)},
      {.op = "TopkExt",
       .label = "negative_dim_ties",
       .inputs = {ties},
       .attrs = {{"k", int64_t{3}}, {"dim", int64_t{-1}}, {"largest", false}},
       .reference = topk_ref(3, -1, false, DType::Int64)},
      {.op = "TopkExt",
       .label = "dim_out_of_range",
       .inputs = {x},
       .attrs = {{"k", int64_t{1}}, {"dim", int64_t{3}}},
       .error = "axis"},
      {.op = "OneHot",
       .label = "last_axis_out_of_range",
       .inputs = {idx, on, off},
       .attrs = {{"depth", int64_t{5}}, {"axis", int64_t{-1}}},
       .reference = one_hot_ref(5, -1)},
      {.op = "OneHot",
       .label = "axis0_int64",
       .inputs = {values({1, 0, 3, -2}, {4}, DType::Int64), values({1}, {}, DType::Int32),
                  values({0}, {}, DType::Int32)},
       .attrs = {{"depth", int64_t{3}}, {"axis", int64_t{0}}},
       .reference = one_hot_ref(3, 0)},
      {.op = "OneHot",
       .label = "middle_axis",
       .inputs = {idx, on, off},
       .attrs = {{"depth", int64_t{4}}, {"axis", int64_t{1}}},
       .reference = one_hot_ref(4, 1)},
      {.op = "OneHot",
       .label = "depth_zero",
       .inputs = {idx, on, off},
       .attrs = {{"depth", int64_t{0}}},
       .reference = one_hot_ref(0, -1)},
      {.op = "OneHot",
       .label = "num_classes_minus_one",
       .inputs = {idx, on, off},
       .attrs = {{"depth", int64_t{-1}}},
       .error = "depends on the data"},
      {.op = "OneHot",
       .label = "axis_out_of_range",
       .inputs = {idx, on, off},
       .attrs = {{"depth", int64_t{3}}, {"axis", int64_t{3}}},
       .error = "axis 3 is outside [-1, 2]"},
      {.op = "OneHot",
       .label = "mixed_values",
       .inputs = {idx, on, values({0}, {}, DType::Float64)},
       .attrs = {{"depth", int64_t{3}}},
       .error = "on_value is Float32 but off_value is Float64"},
      {.op = "OneHot",
       .label = "float_indices",
       .inputs = {on, on, off},
       .attrs = {{"depth", int64_t{3}}},
       .error = "dtype Float32 is not supported"},
      {.op = "ReverseSequence",
       .label = "seq0_batch1",
       .inputs = {x, values({2, 0, 1}, {3}, DType::Int32)},
       .attrs = {{"seq_dim", int64_t{0}}, {"batch_dim", int64_t{1}}},
       .reference = reverse_sequence_ref(0, 1)},
      {.op = "ReverseSequence",
       .label = "seq2_batch0_int64",
       .inputs = {x, values({5, 1}, {2}, DType::Int64)},
       .attrs = {{"seq_dim", int64_t{2}}, {"batch_dim", int64_t{0}}},
       .reference = reverse_sequence_ref(2, 0),
       .no_onnx = "ONNX's ReverseSequence takes its axes among the first two"},
      {.op = "ReverseSequence",
       .label = "negative_seq_dim",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}), values({3, 2}, {2}, DType::Int64)},
       .attrs = {{"seq_dim", int64_t{-1}}},
       .reference = reverse_sequence_ref(1, 0)},
      {.op = "ReverseSequence",
       .label = "same_dims",
       .inputs = {x, values({1, 1}, {2}, DType::Int32)},
       .attrs = {{"seq_dim", int64_t{0}}, {"batch_dim", int64_t{0}}},
       .error = "seq_dim and batch_dim are both 0"},
      {.op = "ReverseSequence",
       .label = "lengths_shape",
       .inputs = {x, values({1, 1}, {2}, DType::Int32)},
       .attrs = {{"seq_dim", int64_t{0}}, {"batch_dim", int64_t{1}}},
       .error = "seq_lengths must be (3,)"},
      {.op = "ReverseSequence",
       .label = "length_too_long",
       .inputs = {x, values({3, 1, 1}, {3}, DType::Int32)},
       .attrs = {{"seq_dim", int64_t{0}}, {"batch_dim", int64_t{1}}},
       .error = "seq_lengths[0] = 3 is outside [0, 2]"},
      {.op = "Embedding",
       .label = "int64_2d",
       .inputs = {values({0, 3, 1, 3}, {2, 2}, DType::Int64), uniform({4, 3}, 4102)},
       .reference = embedding_ref},
      {.op = "Embedding",
       .label = "int32_padding_idx",
       .inputs = {values({2, 0, 1}, {3}, DType::Int32), uniform({3, 2}, 4103)},
       .attrs = {{"padding_idx", int64_t{-1}}},
       .reference = embedding_ref},
      {.op = "Embedding",
       .label = "index_out_of_range",
       .inputs = {values({0, 4}, {2}, DType::Int64), uniform({4, 3}, 4104)},
       .error = "index 4 is out of range [0, 4)"},
      {.op = "Embedding",
       .label = "max_norm_l2",
       .inputs = {values({0, 3, 1, 3, 2}, {5}, DType::Int64),
                  values({0.1, -0.2, 0.3, 1, 2, -2, 0.5, 0.5, 0.5, -3, 0, 4}, {4, 3})},
       .attrs = {{"max_norm", 1.0}},
       .reference = embedding_max_norm_ref},
      {.op = "Embedding",
       .label = "max_norm_l1_int32",
       .inputs = {values({2, 1}, {1, 2}, DType::Int32), uniform({3, 4}, 4107)},
       .attrs = {{"max_norm", 1.5}, {"norm_type", 1.0}},
       .reference = embedding_max_norm_ref},
      {.op = "Embedding",
       .label = "max_norm_inf_float64",
       .inputs = {values({0, 1, 2}, {3}, DType::Int64),
                  uniform({3, 2}, 4108, -2, 2, DType::Float64)},
       .attrs = {{"max_norm", 0.5}, {"norm_type", std::numeric_limits<double>::infinity()}},
       .reference = embedding_max_norm_ref,
       .tol = 1e-12},
      {.op = "Embedding",
       .label = "max_norm_p3",
       .inputs = {values({1, 0}, {2}, DType::Int64), uniform({2, 3}, 4109)},
       .attrs = {{"max_norm", 0.7}, {"norm_type", 3.0}},
       .reference = embedding_max_norm_ref,
       .no_onnx = "written to ONNX for norm_type 1, 2 and inf only"},
      {.op = "Embedding",
       .label = "max_norm_negative",
       .inputs = {values({0}, {1}, DType::Int64), uniform({4, 3}, 4105)},
       .attrs = {{"max_norm", -1.0}},
       .error = "max_norm must be a finite number >= 0"},
      {.op = "Embedding",
       .label = "max_norm_norm_type_zero",
       .inputs = {values({0}, {1}, DType::Int64), uniform({4, 3}, 4105)},
       .attrs = {{"max_norm", 1.0}, {"norm_type", 0.0}},
       .error = "norm_type must be > 0"},
      {.op = "Embedding",
       .label = "max_norm_int_table",
       .inputs = {values({0}, {1}, DType::Int64), values({1, 2}, {1, 2}, DType::Int32)},
       .attrs = {{"max_norm", 1.0}},
       .error = "dtype Int32 is not supported"},
      {.op = "Embedding",
       .label = "table_not_2d",
       .inputs = {values({0}, {1}, DType::Int64), uniform({4}, 4106)},
       .error = "weight must be a 2-D table"},
      {.op = "GatherD",
       .label = "dim2_smaller_index",
       .inputs = {x, values({0, 4, 2, 1, 3, 3, 0, 0, 1, 2, 4, 4}, {2, 2, 3}, DType::Int64)},
       .attrs = {{"dim", int64_t{2}}},
       .reference = gather_d_ref(2)},
      {.op = "GatherD",
       .label = "dim0_int32",
       .inputs = {x, values({1, 0, 1, 1, 0, 0}, {2, 1, 3}, DType::Int32)},
       .attrs = {{"dim", int64_t{0}}},
       .reference = gather_d_ref(0)},
      {.op = "GatherD",
       .label = "negative_dim",
       .inputs = {x, values({2, 0, 1, 1}, {1, 2, 2}, DType::Int64)},
       .attrs = {{"dim", int64_t{-2}}},
       .reference = gather_d_ref(1)},
      {.op = "GatherD",
       .label = "index_out_of_range",
       .inputs = {x, values({0, 5}, {1, 1, 2}, DType::Int64)},
       .attrs = {{"dim", int64_t{2}}},
       .error = "index 5 is out of range [0, 5) on dim 2"},
      {.op = "GatherD",
       .label = "index_too_long",
       .inputs = {x, values({0, 0, 0}, {3, 1, 1}, DType::Int64)},
       .attrs = {{"dim", int64_t{2}}},
       .error = "is longer than x"},
      {.op = "GatherD",
       .label = "rank_mismatch",
       .inputs = {x, values({0}, {1}, DType::Int64)},
       .attrs = {{"dim", int64_t{0}}},
       .error = "index must have x's rank 3"},
  };
  return c;
});

}  // namespace
}  // namespace cellar::testing
