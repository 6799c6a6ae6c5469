// Cases of the tensor rows (src/ops/tensor/): data movement. Every reference says where each
// output element comes from, by index arithmetic on the input's C-order values, so the outputs
// must match exactly (tol 0), in every dtype the rows move.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

using Ints = std::vector<int64_t>;
using Pairs = std::vector<std::pair<int64_t, int64_t>>;

// The C-order index of `flat` in shape `s`, and back.
Ints unravel(int64_t flat, const Shape& s) {
  Ints idx(s.rank());
  for (size_t d = s.rank(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}
int64_t ravel(const Ints& idx, const Shape& s) {
  int64_t flat = 0;
  for (size_t d = 0; d < s.rank(); ++d) flat = flat * s[d] + idx[d];
  return flat;
}

// out[i] = in0[source(out index)] for an output of `shape`, in input 0's dtype.
OpReference gather_from(Shape shape, std::function<int64_t(const Ints&)> source) {
  return [shape, source](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in.at(0));
    std::vector<double> y;
    for (int64_t i = 0; i < shape.numel(); ++i)
      y.push_back(x[static_cast<size_t>(source(unravel(i, shape)))]);
    return std::vector<Tensor>{from_doubles(y, shape, in[0].dtype())};
  };
}

// The input's values unchanged under a new shape (Flatten, Reshape, ExpandDims, Squeeze).
OpReference same_values(Shape shape) {
  return [shape](const std::vector<Tensor>& in, const ir::Attrs&) {
    return std::vector<Tensor>{from_doubles(as_doubles(in.at(0)), shape, in[0].dtype())};
  };
}

// y[i0, …] = x[perm applied]: output dimension k is input dimension perm[k].
OpReference transpose_ref(Ints perm) {
  return [perm](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape& xs = in.at(0).shape();
    Ints out;
    for (int64_t p : perm) out.push_back(xs[static_cast<size_t>(p)]);
    return gather_from(Shape(out), [perm, xs](const Ints& o) {
      Ints i(xs.rank());
      for (size_t k = 0; k < perm.size(); ++k) i[static_cast<size_t>(perm[k])] = o[k];
      return ravel(i, xs);
    })(in, a);
  };
}

// The inputs joined along `axis`: each output index walks back through the inputs' sizes.
OpReference concat_ref(int64_t axis) {
  return [axis](const std::vector<Tensor>& in, const ir::Attrs&) {
    const size_t a = static_cast<size_t>(axis < 0 ? axis + int64_t(in[0].shape().rank()) : axis);
    Ints out = in[0].shape().dims();
    out[a] = 0;
    for (const Tensor& t : in) out[a] += t.shape()[a];
    const Shape os(out);
    std::vector<double> y;
    for (int64_t i = 0; i < os.numel(); ++i) {
      Ints idx = unravel(i, os);
      size_t t = 0;
      while (idx[a] >= in[t].shape()[a]) idx[a] -= in[t++].shape()[a];
      y.push_back(as_doubles(in[t])[static_cast<size_t>(ravel(idx, in[t].shape()))]);
    }
    return std::vector<Tensor>{from_doubles(y, os, in[0].dtype())};
  };
}

// out[p0…, i…, p(axis+1)…] = params[p0…, indices[i…], p(axis+1)…].
OpReference gather_ref(int64_t axis) {
  return [axis](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape& ps = in.at(0).shape();
    const Shape& is = in.at(1).shape();
    const auto idx = as_doubles(in[1]);
    const auto ax = static_cast<size_t>(axis);
    const Ints pd = ps.dims();
    Ints out(pd.begin(), pd.begin() + axis);
    for (int64_t d : is) out.push_back(d);
    for (size_t d = ax + 1; d < ps.rank(); ++d) out.push_back(ps[d]);
    return gather_from(Shape(out), [=](const Ints& o) {
      Ints p(o.begin(), o.begin() + axis);
      Ints i(o.begin() + axis, o.begin() + axis + static_cast<int64_t>(is.rank()));
      p.push_back(static_cast<int64_t>(idx[static_cast<size_t>(ravel(i, is))]));
      p.insert(p.end(), o.begin() + axis + static_cast<int64_t>(is.rank()), o.end());
      return ravel(p, ps);
    })(in, a);
  };
}

// x (its shape padded with leading 1s) repeated: out index k reads x at k mod size.
OpReference tile_ref(Ints mult) {
  return [mult](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape& xs = in.at(0).shape();
    Ints dims(mult.size() - xs.rank(), 1);
    for (int64_t d : xs) dims.push_back(d);
    Ints out;
    for (size_t k = 0; k < mult.size(); ++k) out.push_back(dims[k] * mult[k]);
    const Shape padded(dims);
    return gather_from(Shape(out), [padded](const Ints& o) {
      Ints i;
      for (size_t k = 0; k < o.size(); ++k) i.push_back(o[k] % padded[k]);
      return ravel(i, padded);
    })(in, a);
  };
}

// Pad as numpy.pad describes it: per dimension, the source index of each output index, built by
// concatenation (constant: -1 for the fill): reflect x[b] … x[1] | x | x[n-2] … x[n-1-a];
// symmetric x[b-1] … x[0] | x | x[n-1] … x[n-a]; edge x[0]·b | x | x[n-1]·a.
OpReference pad_ref(Pairs p, std::string mode = "constant", double value = 0) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Tensor& x = in.at(0);
    const size_t r = x.shape().rank();
    std::vector<Ints> src(r);
    Ints od;
    for (size_t d = 0; d < r; ++d) {
      const int64_t n = x.shape()[d], b = p[d].first, a = p[d].second;
      Ints& s = src[d];
      for (int64_t k = 0; k < b; ++k) {
        if (mode == "reflect")
          s.push_back(b - k);
        else if (mode == "symmetric")
          s.push_back(b - 1 - k);
        else
          s.push_back(mode == "edge" ? 0 : -1);
      }
      for (int64_t k = 0; k < n; ++k) s.push_back(k);
      for (int64_t k = 0; k < a; ++k) {
        if (mode == "reflect")
          s.push_back(n - 2 - k);
        else if (mode == "symmetric")
          s.push_back(n - 1 - k);
        else
          s.push_back(mode == "edge" ? n - 1 : -1);
      }
      od.push_back(static_cast<int64_t>(s.size()));
    }
    const Shape out(od);
    const auto xv = as_doubles(x);
    std::vector<double> y;
    for (int64_t i = 0; i < out.numel(); ++i) {
      const Ints o = unravel(i, out);
      Ints idx;
      for (size_t d = 0; d < r; ++d) idx.push_back(src[d][static_cast<size_t>(o[d])]);
      const bool fill = std::find(idx.begin(), idx.end(), -1) != idx.end();
      y.push_back(fill ? value : xv[static_cast<size_t>(ravel(idx, x.shape()))]);
    }
    return std::vector<Tensor>{from_doubles(y, out, x.dtype())};
  };
}

// Pad's attributes for these pairs.
ir::Attrs pad_attrs(const Pairs& p, const std::string& mode = "", double value = 0) {
  Ints flat;
  for (const auto& [b, a] : p) {
    flat.push_back(b);
    flat.push_back(a);
  }
  ir::Attrs attrs{{"paddings", flat}};
  if (!mode.empty()) attrs["mode"] = mode;
  if (value != 0) attrs["value"] = value;
  return attrs;
}

// Element i is i % m + offset, in `dt` (small integers every dtype holds, repeating).
Tensor pattern(const Shape& s, DType dt, int64_t m = 11, double offset = -4) {
  std::vector<double> v;
  for (int64_t i = 0; i < s.numel(); ++i) v.push_back(double(i % m) + offset);
  return values(v, s, dt);
}

Tensor ints(const Ints& v, const Shape& s, DType dt = DType::Int64) {
  return values(std::vector<double>(v.begin(), v.end()), s, dt);
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;
  const Tensor x234 = uniform({2, 3, 4}, 9);

  // ---- Flatten, Reshape ----
  c.push_back({.op = "Flatten",
               .label = "rank3",
               .inputs = {x234},
               .reference = same_values({2, 12}),
               .tol = 0});
  c.push_back({.op = "Flatten",
               .label = "int_rank1",
               .inputs = {ints({1, 2, 3}, {3})},
               .reference = same_values({3, 1}),
               .tol = 0});
  c.push_back({.op = "Flatten",
               .label = "scalar_refused",
               .inputs = {values({1}, {})},
               .error = "input must have rank >= 1"});
  c.push_back({.op = "Reshape",
               .label = "inferred_dim",
               .inputs = {x234},
               .attrs = {{"shape", Ints{4, -1}}},
               .reference = same_values({4, 6}),
               .tol = 0});
  c.push_back({.op = "Reshape",
               .label = "int8_to_rank4",
               .inputs = {pattern({6, 4}, DType::Int8)},
               .attrs = {{"shape", Ints{2, 3, 2, 2}}},
               .reference = same_values({2, 3, 2, 2}),
               .tol = 0});
  c.push_back({.op = "Reshape",
               .label = "indivisible_refused",
               .inputs = {x234},
               .attrs = {{"shape", Ints{5, -1}}},
               .error = "cannot reshape"});
  c.push_back({.op = "Reshape",
               .label = "two_inferred_refused",
               .inputs = {x234},
               .attrs = {{"shape", Ints{-1, -1}}},
               .error = "more than one -1"});
  c.push_back({.op = "Reshape",
               .label = "wrong_count_refused",
               .inputs = {x234},
               .attrs = {{"shape", Ints{7}}},
               .error = "cannot reshape"});
  c.push_back({.op = "Reshape",
               .label = "negative_refused",
               .inputs = {x234},
               .attrs = {{"shape", Ints{-2, 12}}},
               .error = "negative dimension -2"});

  // ---- Transpose ----
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int8})
    c.push_back({.op = "Transpose",
                 .label = "perm201_" + std::string(mindspore_name(dt)),
                 .inputs = {uniform({2, 3, 4}, 800, -100, 100, dt)},
                 .attrs = {{"perm", Ints{2, 0, 1}}},
                 .reference = transpose_ref({2, 0, 1}),
                 .tol = 0});
  c.push_back({.op = "Transpose",
               .label = "rank4_negative_axes",
               .inputs = {uniform({2, 1, 3, 5}, 801)},
               .attrs = {{"perm", Ints{-1, 0, 2, 1}}},
               .reference = transpose_ref({3, 0, 2, 1}),
               .tol = 0});
  // The kernel's plans: NCHW → NHWC and back (tiles of the plane, tails of 32, over workers),
  // attention's heads (runs), merged neighbours, the identity, all-ones and a rank-5 mix.
  const std::vector<std::pair<std::string, std::pair<Shape, Ints>>> plans = {
      {"nchw_to_nhwc", {{2, 40, 9, 11}, {0, 2, 3, 1}}},
      {"nhwc_to_nchw", {{1, 33, 35, 70}, {0, 3, 1, 2}}},
      {"heads", {{1, 50, 12, 64}, {0, 2, 1, 3}}},
      {"merged_neighbours", {{3, 4, 5, 6}, {2, 3, 0, 1}}},
      {"identity", {{3, 4, 5}, {0, 1, 2}}},
      {"all_ones", {{1, 1, 1}, {2, 0, 1}}},
      {"rank5", {{2, 3, 1, 4, 5}, {4, 2, 0, 3, 1}}},
      {"large_plane", {{1, 96, 56, 56}, {0, 2, 3, 1}}}};
  uint64_t tseed = 810;
  for (const auto& [label, sp] : plans) {
    std::vector<int64_t> perm(sp.second.begin(), sp.second.end());
    c.push_back({.op = "Transpose",
                 .label = "plan_" + label,
                 .inputs = {uniform(sp.first, tseed++, -100, 100)},
                 .attrs = {{"perm", sp.second}},
                 .reference = transpose_ref(perm),
                 .tol = 0});
  }
  c.push_back({.op = "Transpose",
               .label = "plan_nchw_to_nhwc_int8",
               .inputs = {uniform({1, 37, 6, 7}, 820, -100, 100, DType::Int8)},
               .attrs = {{"perm", Ints{0, 2, 3, 1}}},
               .reference = transpose_ref({0, 2, 3, 1}),
               .tol = 0});
  // 4-byte planes go through 8 × 8 SIMD blocks (transpose_plane.h) with edges of every width;
  // 8-byte elements element by element: a matrix of one block, one of 9 × 5 blocks with 3- and
  // 1-wide edges, int32 and float64 across the (q, last) plane.
  for (const auto& [label, shape, perm, dt] :
       std::vector<std::tuple<std::string, Shape, Ints, DType>>{
           {"block_8x8", {8, 8}, {1, 0}, DType::Float32},
           {"matrix_75x41", {75, 41}, {1, 0}, DType::Float32},
           {"nchw_to_nhwc_int32", {2, 45, 13, 19}, {0, 2, 3, 1}, DType::Int32},
           {"nhwc_to_nchw_float64", {1, 9, 7, 45}, {0, 3, 1, 2}, DType::Float64}})
    c.push_back({.op = "Transpose",
                 .label = "plane_" + label,
                 .inputs = {uniform(shape, tseed++, -100, 100, dt)},
                 .attrs = {{"perm", perm}},
                 .reference = transpose_ref(std::vector<int64_t>(perm.begin(), perm.end())),
                 .tol = 0});
  const Tensor ones23 = values({1, 1, 1, 1, 1, 1}, {2, 3});
  c.push_back({.op = "Transpose",
               .label = "short_perm_refused",
               .inputs = {ones23},
               .attrs = {{"perm", Ints{0}}},
               .error = "perm has 1 entries"});
  c.push_back({.op = "Transpose",
               .label = "repeat_refused",
               .inputs = {ones23},
               .attrs = {{"perm", Ints{0, 0}}},
               .error = "not a permutation"});
  c.push_back({.op = "Transpose",
               .label = "axis_out_of_range_refused",
               .inputs = {ones23},
               .attrs = {{"perm", Ints{0, 2}}},
               .error = "axis 2 is out of range for rank 2"});

  // ---- ExpandDims, Squeeze ----
  const Tensor x23 = uniform({2, 3}, 900);
  c.push_back({.op = "ExpandDims",
               .label = "middle",
               .inputs = {x23},
               .attrs = {{"axis", int64_t{1}}},
               .reference = same_values({2, 1, 3}),
               .tol = 0});
  c.push_back({.op = "ExpandDims",
               .label = "last",
               .inputs = {x23},
               .attrs = {{"axis", int64_t{-1}}},
               .reference = same_values({2, 3, 1}),
               .tol = 0});
  c.push_back({.op = "ExpandDims",
               .label = "first_int",
               .inputs = {ints({4, 5}, {2})},
               .attrs = {{"axis", int64_t{0}}},
               .reference = same_values({1, 2}),
               .tol = 0});
  c.push_back({.op = "ExpandDims",
               .label = "axis_3_refused",
               .inputs = {x23},
               .attrs = {{"axis", int64_t{3}}},
               .error = "axis 3 is out of range for rank 3"});
  c.push_back({.op = "ExpandDims",
               .label = "axis_minus4_refused",
               .inputs = {x23},
               .attrs = {{"axis", int64_t{-4}}},
               .error = "axis -4 is out of range"});
  const Tensor x1213 = uniform({1, 2, 1, 3}, 901);
  c.push_back({.op = "Squeeze",
               .label = "every_size1",
               .inputs = {x1213},
               .attrs = {{"axis", Ints{}}},
               .reference = same_values({2, 3}),
               .tol = 0});
  c.push_back({.op = "Squeeze",
               .label = "no_axis_attr",
               .inputs = {x1213},
               .reference = same_values({2, 3}),
               .tol = 0,
               .no_mindir = "the MindIR writer needs `axis` (Squeeze's spelling has no default)"});
  c.push_back({.op = "Squeeze",
               .label = "one_negative_axis",
               .inputs = {x1213},
               .attrs = {{"axis", Ints{-2}}},
               .reference = same_values({1, 2, 3}),
               .tol = 0});
  c.push_back({.op = "Squeeze",
               .label = "nothing_to_drop",
               .inputs = {x23},
               .attrs = {{"axis", Ints{}}},
               .reference = same_values({2, 3}),
               .tol = 0});
  c.push_back({.op = "Squeeze",
               .label = "size2_refused",
               .inputs = {x1213},
               .attrs = {{"axis", Ints{1}}},
               .error = "has size 2, not 1"});
  c.push_back({.op = "Squeeze",
               .label = "axis_out_of_range_refused",
               .inputs = {x1213},
               .attrs = {{"axis", Ints{4}}},
               .error = "axis 4 is out of range for rank 4"});

  // ---- Concat ----
  for (int64_t axis : {0, 1, -1}) {
    const auto a = static_cast<size_t>(axis < 0 ? 2 : axis);
    Shape s2{2, 3, 4}, s3{2, 3, 4};
    s2[a] = 1;
    s3[a] = 2;
    c.push_back({.op = "Concat",
                 .label = "three_axis" + std::to_string(a),
                 .inputs = {uniform({2, 3, 4}, 1000), uniform(s2, 1001), uniform(s3, 1002)},
                 .attrs = {{"axis", axis}},
                 .reference = concat_ref(axis),
                 .tol = 0});
  }
  c.push_back({.op = "Concat",
               .label = "one_input_default_axis",
               .inputs = {uniform({2, 2}, 1003)},
               .reference = concat_ref(0),
               .tol = 0});
  c.push_back({.op = "Concat",
               .label = "int64_with_empty",
               .inputs = {ints({1, 2, 3, 4}, {2, 2}), ints({}, {2, 0}), ints({5, 6}, {2, 1})},
               .attrs = {{"axis", int64_t{1}}},
               .reference = concat_ref(1),
               .tol = 0});
  c.push_back({.op = "Concat",
               .label = "mismatch_refused",
               .inputs = {ones23, uniform({2, 4}, 1)},
               .attrs = {{"axis", int64_t{0}}},
               .error = "does not match input 0"});
  c.push_back({.op = "Concat",
               .label = "rank_mismatch_refused",
               .inputs = {ones23, uniform({2, 3, 1}, 1)},
               .attrs = {{"axis", int64_t{0}}},
               .error = "does not match input 0"});
  c.push_back({.op = "Concat",
               .label = "dtype_mismatch_refused",
               .inputs = {ones23, uniform({2, 3}, 1, -2, 2, DType::Float64)},
               .attrs = {{"axis", int64_t{0}}},
               .error = "inputs have different dtypes"});
  c.push_back({.op = "Concat",
               .label = "axis_out_of_range_refused",
               .inputs = {ones23},
               .attrs = {{"axis", int64_t{2}}},
               .error = "axis 2 is out of range for rank 2"});

  // ---- Gather ----
  const Tensor params = uniform({4, 5, 3}, 1100);
  for (DType it : {DType::Int32, DType::Int64})
    c.push_back({.op = "Gather",
                 .label = "axis1_" + std::string(mindspore_name(it)),
                 .inputs = {params, ints({4, 0, 2, 4, 1, 1}, {2, 3}, it)},
                 .attrs = {{"axis", int64_t{1}}},
                 .reference = gather_ref(1),
                 .tol = 0});
  c.push_back({.op = "Gather",
               .label = "int_params_axis0",
               .inputs = {ints({10, 20, 30}, {3}, DType::Int32), ints({2, 0}, {2}, DType::Int32)},
               .attrs = {{"axis", int64_t{0}}},
               .reference = gather_ref(0),
               .tol = 0});
  c.push_back({.op = "Gather",
               .label = "last_axis_scalar_index",
               .inputs = {params, ints({2}, {})},
               .attrs = {{"axis", int64_t{-1}}},
               .reference = gather_ref(2),
               .tol = 0});
  c.push_back({.op = "Gather",
               .label = "index_too_big_refused",
               .inputs = {params, ints({5}, {1}, DType::Int32)},
               .attrs = {{"axis", int64_t{1}}},
               .error = "index 5 is out of range [0, 5)"});
  c.push_back({.op = "Gather",
               .label = "negative_index_refused",
               .inputs = {params, ints({-1}, {1}, DType::Int32)},
               .attrs = {{"axis", int64_t{1}}},
               .error = "index -1 is out of range"});
  c.push_back({.op = "Gather",
               .label = "float_indices_refused",
               .inputs = {params, values({1}, {1})},
               .attrs = {{"axis", int64_t{0}}},
               .error = "dtype Float32 is not supported"});
  c.push_back({.op = "Gather",
               .label = "axis_out_of_range_refused",
               .inputs = {params, ints({0}, {1}, DType::Int32)},
               .attrs = {{"axis", int64_t{3}}},
               .error = "axis 3 is out of range for rank 3"});
  c.push_back({.op = "Gather",
               .label = "batch_dims_refused",
               .inputs = {params, ints({0}, {1})},
               .attrs = {{"axis", int64_t{1}}, {"batch_dims", int64_t{1}}},
               .error = "only batch_dims = 0 is supported"});

  // ---- Tile ----
  c.push_back({.op = "Tile",
               .label = "longer_multiples",
               .inputs = {uniform({2, 3}, 1200)},
               .attrs = {{"multiples", Ints{2, 1, 3}}},
               .reference = tile_ref({2, 1, 3}),
               .tol = 0});
  c.push_back({.op = "Tile",
               .label = "int64",
               .inputs = {ints({1, 2}, {2, 1})},
               .attrs = {{"multiples", Ints{2, 2}}},
               .reference = tile_ref({2, 2}),
               .tol = 0});
  c.push_back({.op = "Tile",
               .label = "zero_multiple_is_empty",
               .inputs = {uniform({2, 3}, 1201)},
               .attrs = {{"multiples", Ints{0, 1}}},
               .reference = tile_ref({0, 1}),
               .tol = 0});
  c.push_back({.op = "Tile",
               .label = "uint8_rank3",
               .inputs = {uniform({2, 1, 3}, 1202, 0, 200, DType::UInt8)},
               .attrs = {{"multiples", Ints{1, 4, 2}}},
               .reference = tile_ref({1, 4, 2}),
               .tol = 0});
  c.push_back({.op = "Tile",
               .label = "short_multiples_refused",
               .inputs = {ones23},
               .attrs = {{"multiples", Ints{2}}},
               .error = "fewer than the input's rank"});
  c.push_back({.op = "Tile",
               .label = "negative_refused",
               .inputs = {ones23},
               .attrs = {{"multiples", Ints{-1, 1}}},
               .error = "must be non-negative"});

  // ---- Pad, constant mode: ranks 1 to 4, zero and other fills, an integer dtype, zero-size
  // pads and inputs ----
  struct Constant {
    std::string label;
    Shape x;
    Pairs p;
    double value;
    DType dtype;
  };
  for (const Constant& k : std::vector<Constant>{
           {"rank1", {5}, {{2, 3}}, 0, DType::Float32},
           {"rank2_fill", {2, 3}, {{0, 1}, {2, 0}}, -1.5, DType::Float32},
           {"resnet_stem", {1, 2, 3, 4}, {{0, 0}, {0, 0}, {1, 1}, {1, 1}}, 0, DType::Float32},
           {"int32_fill", {2, 1, 3, 2}, {{1, 0}, {0, 2}, {3, 1}, {0, 0}}, 7, DType::Int32},
           {"no_padding", {2, 2}, {{0, 0}, {0, 0}}, 0, DType::Float64},
           {"empty_input_fill", {0, 3}, {{1, 1}, {0, 0}}, 2, DType::Float32},
       })
    c.push_back({.op = "Pad",
                 .label = "constant_" + k.label,
                 .inputs = {pattern(k.x, k.dtype)},
                 .attrs = pad_attrs(k.p, "", k.value),
                 .reference = pad_ref(k.p, "constant", k.value),
                 .tol = 0});

  // ---- Pad, the mirror and edge modes: ranks 0 to 5, several dtypes, paddings up to the
  // modes' limits. MindSpore's MirrorPad takes ranks 1 to 5 and its PadV3 edge mode only
  // dimensions 2 and up of ranks 3 to 5; ONNX has no symmetric mode ----
  const std::string kNoEdge = "MindSpore's PadV3 pads edge only in dimensions 2+ of rank 3-5";
  const std::string kNoSymmetric = "ONNX's Pad has no symmetric mode";
  struct Mode {
    std::string label;
    Shape x;
    Pairs p;
    std::string mode;
    DType dtype;
    std::string no_mindir, no_onnx;
  };
  for (const Mode& k : std::vector<Mode>{
           {"rank1_max", {5}, {{4, 4}}, "reflect", DType::Float32},
           {"rank1_max", {5}, {{5, 5}}, "symmetric", DType::Float32, "", kNoSymmetric},
           {"rank1", {5}, {{7, 2}}, "edge", DType::Float32, kNoEdge},
           {"int32", {2, 3}, {{1, 0}, {2, 2}}, "reflect", DType::Int32},
           {"at_limits", {2, 3}, {{1, 1}, {2, 2}}, "reflect", DType::Float32},
           {"at_limits", {2, 3}, {{2, 2}, {3, 3}}, "symmetric", DType::Float32, "", kNoSymmetric},
           {"float16", {2, 3}, {{2, 1}, {3, 0}}, "symmetric", DType::Float16, "", kNoSymmetric},
           {"uint8", {2, 3}, {{0, 3}, {1, 4}}, "edge", DType::UInt8, kNoEdge},
           {"rank4_float64",
            {2, 3, 4, 5},
            {{0, 0}, {1, 0}, {2, 1}, {0, 3}},
            "reflect",
            DType::Float64},
           {"rank4_int64",
            {2, 3, 4, 5},
            {{1, 2}, {0, 3}, {4, 1}, {2, 5}},
            "symmetric",
            DType::Int64,
            "",
            kNoSymmetric},
           {"rank5_bool",
            {2, 1, 3, 2, 2},
            {{1, 1}, {2, 0}, {0, 1}, {1, 2}, {0, 0}},
            "edge",
            DType::Bool,
            kNoEdge},
           {"rank4_spatial",
            {1, 2, 3, 2},
            {{0, 0}, {0, 0}, {2, 1}, {1, 3}},
            "edge",
            DType::Float32},
           {"bfloat16", {1, 1}, {{0, 0}, {1, 1}}, "symmetric", DType::BFloat16, "", kNoSymmetric},
           {"size1_no_padding", {1, 4}, {{0, 0}, {0, 0}}, "reflect", DType::Float32},
           {"empty_input", {0, 3}, {{0, 0}, {2, 1}}, "edge", DType::Float32, kNoEdge},
           {"scalar", {}, {}, "reflect", DType::Int8},
       }) {
    Tensor x = pattern(k.x, k.dtype, 13, -5);
    if (k.dtype == DType::UInt8 || k.dtype == DType::Bool) {
      std::vector<double> v;
      for (int64_t i = 0; i < k.x.numel(); ++i) v.push_back(double(i % 2 + i % 7));
      x = values(v, k.x, k.dtype);
    }
    c.push_back({.op = "Pad",
                 .label = k.mode + "_" + k.label,
                 .inputs = {x},
                 .attrs = pad_attrs(k.p, k.mode),
                 .reference = pad_ref(k.p, k.mode),
                 .tol = 0,
                 .no_mindir = k.no_mindir,
                 .no_onnx = k.no_onnx});
  }

  // ---- Pad's refusals: a ValueError that says which dimension and why ----
  struct Refused {
    std::string label;
    Shape x;
    ir::Attrs attrs;
    std::string error;
  };
  const Pairs overflow{{0, 0}, {std::numeric_limits<int64_t>::max(), 1}};
  for (const Refused& k : std::vector<Refused>{
           {"one_pair_for_rank2", {2, 3}, pad_attrs({{1, 1}}), "paddings has 2 values"},
           {"negative", {2, 3}, pad_attrs({{0, 0}, {-1, 0}}), "are negative"},
           {"overflow", {2, 3}, pad_attrs(overflow), "overflows"},
           {"reflect_not_smaller",
            {2, 3},
            pad_attrs({{0, 0}, {3, 0}}, "reflect"),
            "smaller than the dimension"},
           {"reflect_names_dimension",
            {2, 3},
            pad_attrs({{0, 2}, {0, 0}}, "reflect"),
            "dimension 0"},
           {"reflect_size1",
            {1, 2},
            pad_attrs({{1, 0}, {0, 0}}, "reflect"),
            "smaller than the dimension"},
           {"symmetric_exceeds",
            {2, 3},
            pad_attrs({{0, 0}, {0, 4}}, "symmetric"),
            "must not exceed"},
           {"edge_negative", {2, 3}, pad_attrs({{0, 0}, {-1, 0}}, "edge"), "negative"},
           {"edge_empty", {0, 2}, pad_attrs({{1, 0}, {0, 0}}, "edge"), "which is empty"},
           {"edge_overflow", {2, 3}, pad_attrs(overflow, "edge"), "overflows"},
           {"unknown_mode", {2, 3}, pad_attrs({{0, 0}, {1, 0}}, "wrap"), "not one of"},
           {"fill_outside_constant",
            {2, 3},
            pad_attrs({{0, 0}, {1, 0}}, "edge", 1.0),
            "constant mode"},
           {"mode_not_string",
            {2, 3},
            {{"paddings", Ints{0, 0, 1, 1}}, {"mode", int64_t{1}}},
            "must be a string"},
       })
    c.push_back({.op = "Pad",
                 .label = "refuses_" + k.label,
                 .inputs = {pattern(k.x, DType::Float32)},
                 .attrs = k.attrs,
                 .error = k.error});
  c.push_back({.op = "Pad",
               .label = "refuses_str",
               .inputs = {Tensor::from_string("s")},
               .attrs = pad_attrs({}, "edge"),
               .error = "str tensors cannot be padded"});
  return c;
}

const OpCaseTable kTensor(cases);

// ---- the ops mindcv's networks need (issue 12) ----

// out[i] = x[start + idx·step] over the index box `count` (C order), reshaped to `out`: a
// StridedSlice's meaning worked out by hand per case, independent of the masks.
OpReference strided_ref(Ints start, Ints step, Ints count, Shape out) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape xs = in.at(0).shape(), box(count);
    auto y = gather_from(box, [=](const Ints& o) {
      Ints i(xs.rank());
      for (size_t d = 0; d < xs.rank(); ++d) i[d] = start[d] + o[d] * step[d];
      return ravel(i, xs);
    })(in, a);
    return std::vector<Tensor>{y[0].reshape(out)};
  };
}

ir::Attrs slice_attrs(Ints begin, Ints end, Ints strides, int64_t begin_mask = 0,
                      int64_t end_mask = 0, int64_t ellipsis = 0, int64_t new_axis = 0,
                      int64_t shrink = 0) {
  return {{"begin", begin},
          {"end", end},
          {"strides", strides},
          {"begin_mask", begin_mask},
          {"end_mask", end_mask},
          {"ellipsis_mask", ellipsis},
          {"new_axis_mask", new_axis},
          {"shrink_axis_mask", shrink}};
}

// Output k of a split along `axis` into `sizes` (each output's axis shifted by the sizes before).
OpReference split_ref(size_t axis, Ints sizes, bool squeeze) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape xs = in.at(0).shape();
    std::vector<Tensor> out;
    int64_t begin = 0;
    for (int64_t n : sizes) {
      Ints d = xs.dims();
      d[axis] = n;
      out.push_back(gather_from(Shape(d), [=](const Ints& o) {
        Ints i = o;
        i[axis] += begin;
        return ravel(i, xs);
      })(in, a)[0]);
      if (squeeze) {
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(axis));
        out.back() = out.back().reshape(Shape(d));
      }
      begin += n;
    }
    return out;
  };
}

// The inputs stacked along a new `axis`: output index o takes input o[axis] at o without it.
std::vector<Tensor> stack_ref(const std::vector<Tensor>& in, const ir::Attrs& attrs) {
  const Shape& s = in[0].shape();
  int64_t axis = attrs.count("axis") ? std::get<int64_t>(attrs.at("axis")) : 0;
  if (axis < 0) axis += static_cast<int64_t>(s.rank()) + 1;
  Ints od = s.dims();
  od.insert(od.begin() + axis, static_cast<int64_t>(in.size()));
  const Shape os(od);
  std::vector<double> y;
  for (int64_t i = 0; i < os.numel(); ++i) {
    Ints o = unravel(i, os);
    const auto k = static_cast<size_t>(o[static_cast<size_t>(axis)]);
    o.erase(o.begin() + axis);
    y.push_back(as_doubles(in[k])[static_cast<size_t>(ravel(o, s))]);
  }
  return {from_doubles(y, os, in[0].dtype())};
}

// x broadcast to `out` (NumPy: right-aligned, 1s stretched).
OpReference broadcast_ref(Shape out) {
  return [out](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const Shape xs = in.at(0).shape();
    return gather_from(out, [xs, out](const Ints& o) {
      Ints i(xs.rank());
      const size_t lead = out.rank() - xs.rank();
      for (size_t d = 0; d < xs.rank(); ++d) i[d] = xs[d] == 1 ? 0 : o[d + lead];
      return ravel(i, xs);
    })(in, a);
  };
}

std::vector<OpCase> model_cases() {
  const Tensor x2564 = uniform({2, 5, 6, 4}, 3001), x45 = uniform({4, 5}, 3002);
  const Tensor x345 = uniform({3, 4, 5}, 3003), x234 = uniform({2, 3, 4}, 3004);
  const Tensor i6 = values({0, 1, 2, 3, 4, 5}, {6}, DType::Int32);
  return {
      // x[:, 1:3]
      {.op = "StridedSlice",
       .label = "basic",
       .inputs = {x2564},
       .attrs = slice_attrs({0, 1}, {2, 3}, {1, 1}),
       .reference = strided_ref({0, 1, 0, 0}, {1, 1, 1, 1}, {2, 2, 6, 4}, Shape{2, 2, 6, 4})},
      // x[:, ::-2] with begin/end masks on both entries
      {.op = "StridedSlice",
       .label = "negative_stride_masks",
       .inputs = {x45},
       .attrs = slice_attrs({0, 0}, {0, 0}, {1, -2}, 3, 3),
       .reference = strided_ref({0, 4}, {1, -2}, {4, 3}, Shape{4, 3})},
      // x[0, -1:1:-2] (begin −1 is the last index, end 1 exclusive going backward)
      {.op = "StridedSlice",
       .label = "negative_begin_backward",
       .inputs = {x45},
       .attrs = slice_attrs({0, -1}, {1, 1}, {1, -2}, 0, 0, 0, 0, 1),
       .reference = strided_ref({0, 4}, {1, -2}, {1, 2}, Shape{2})},
      // x[3::-1]: going backward to the start, spelled with end_mask
      {.op = "StridedSlice",
       .label = "backward_to_start",
       .inputs = {i6},
       .attrs = slice_attrs({3}, {0}, {-1}, 0, 1),
       .reference = strided_ref({3}, {-1}, {4}, Shape{4}),
       .tol = 0},
      // x[1, :, 2] by shrink_axis bits 0 and 2
      {.op = "StridedSlice",
       .label = "shrink",
       .inputs = {x345},
       .attrs = slice_attrs({1, 0, 2}, {2, 4, 3}, {1, 1, 1}, 0, 2, 0, 0, 5),
       .reference = strided_ref({1, 0, 2}, {1, 1, 1}, {1, 4, 1}, Shape{4})},
      // x[..., None, 1:3]
      {.op = "StridedSlice",
       .label = "ellipsis_new_axis",
       .inputs = {x234},
       .attrs = slice_attrs({0, 0, 1}, {0, 0, 3}, {1, 1, 1}, 0, 0, 1, 2),
       .reference = strided_ref({0, 0, 1}, {1, 1, 1}, {2, 3, 2}, Shape{2, 3, 1, 2})},
      // x[None, 1:2, ..., ::3]
      {.op = "StridedSlice",
       .label = "new_axis_first_ellipsis_middle",
       .inputs = {x2564},
       .attrs = slice_attrs({0, 1, 0, 0}, {0, 2, 0, 0}, {1, 1, 1, 3}, 8, 8, 4, 1),
       .reference = strided_ref({1, 0, 0, 0}, {1, 1, 1, 3}, {1, 5, 6, 2}, Shape{1, 1, 5, 6, 2})},
      // x[1::-1, 1:4, 2:5]: runs of 3 × 4 contiguous elements under a backward axis
      {.op = "StridedSlice",
       .label = "runs_under_backward_axis",
       .inputs = {x2564},
       .attrs = slice_attrs({1, 1, 2}, {0, 4, 5}, {-1, 1, 1}, 0, 1),
       .reference = strided_ref({1, 1, 2, 0}, {-1, 1, 1, 1}, {2, 3, 3, 4}, Shape{2, 3, 3, 4})},
      // x[1]: one run (a channel split's half)
      {.op = "StridedSlice",
       .label = "one_run_shrunk",
       .inputs = {x2564},
       .attrs = slice_attrs({1}, {2}, {1}, 0, 0, 0, 0, 1),
       .reference = strided_ref({1, 0, 0, 0}, {1, 1, 1, 1}, {1, 5, 6, 4}, Shape{5, 6, 4})},
      // x[-100:100:2]: clamped
      {.op = "StridedSlice",
       .label = "clamped",
       .inputs = {i6},
       .attrs = slice_attrs({-100}, {100}, {2}),
       .reference = strided_ref({0}, {2}, {3}, Shape{3}),
       .tol = 0},
      // x[3:1]: empty
      {.op = "StridedSlice",
       .label = "empty",
       .inputs = {i6},
       .attrs = slice_attrs({3}, {1}, {1}),
       .reference = strided_ref({0}, {1}, {0}, Shape{0}),
       .tol = 0},
      // x[1:2]: fewer entries than dimensions
      {.op = "StridedSlice",
       .label = "fewer_entries",
       .inputs = {x234},
       .attrs = slice_attrs({1}, {2}, {1}),
       .reference = strided_ref({1, 0, 0}, {1, 1, 1}, {1, 3, 4}, Shape{1, 3, 4})},
      // Steps at the type's extremes take one element and overflow nothing.
      {.op = "StridedSlice",
       .label = "extreme_steps",
       .inputs = {x45},
       .attrs =
           slice_attrs({1, -1}, {4, -6},
                       {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}),
       .reference = strided_ref({1, 4}, {1, 1}, {1, 1}, Shape{1, 1})},
      {.op = "StridedSlice",
       .label = "extreme_bounds",
       .inputs = {i6},
       .attrs = slice_attrs({std::numeric_limits<int64_t>::max()},
                            {std::numeric_limits<int64_t>::min()}, {-2}),
       .reference = strided_ref({5}, {-2}, {3}, Shape{3}),
       .tol = 0},
      {.op = "StridedSlice",
       .label = "shrink_out_of_range",
       .inputs = {x45},
       .attrs = slice_attrs({4}, {5}, {1}, 0, 0, 0, 0, 1),
       .error = "out of range"},
      {.op = "StridedSlice",
       .label = "zero_stride",
       .inputs = {x45},
       .attrs = slice_attrs({0}, {2}, {0}),
       .error = "strides[0] is 0"},
      {.op = "StridedSlice",
       .label = "lengths_differ",
       .inputs = {x45},
       .attrs = slice_attrs({0, 1}, {2}, {1}),
       .error = "different lengths"},
      {.op = "StridedSlice",
       .label = "two_ellipses",
       .inputs = {x45},
       .attrs = slice_attrs({0, 0}, {0, 0}, {1, 1}, 0, 0, 3),
       .error = "more than one bit"},
      {.op = "StridedSlice",
       .label = "too_many_entries",
       .inputs = {x45},
       .attrs = slice_attrs({0, 0, 0}, {1, 1, 1}, {1, 1, 1}),
       .error = "indexed dimensions"},
      {.op = "BroadcastTo",
       .label = "new_and_stretched",
       .inputs = {uniform({3, 1}, 3005)},
       .attrs = {{"shape", Ints{2, 3, 4}}},
       .reference = broadcast_ref(Shape{2, 3, 4})},
      {.op = "BroadcastTo",
       .label = "minus_one_keeps_int32",
       .inputs = {values({1, 2, 3}, {3, 1}, DType::Int32)},
       .attrs = {{"shape", Ints{-1, 5}}},
       .reference = broadcast_ref(Shape{3, 5}),
       .tol = 0},
      {.op = "BroadcastTo",
       .label = "incompatible",
       .inputs = {uniform({3, 2}, 3006)},
       .attrs = {{"shape", Ints{3, 4}}},
       .error = "cannot broadcast"},
      // Expand: the target shape is a tensor (known at run time), broadcast both ways as ONNX
      // does.
      {.op = "Expand",
       .label = "target_from_a_tensor",
       .inputs = {uniform({3, 1}, 3012), values({2, 1, 4}, {3}, DType::Int64)},
       .reference = broadcast_ref(Shape{2, 3, 4})},
      {.op = "Expand",
       .label = "shorter_target_keeps_x_int32",
       .inputs = {values({1, 2, 3}, {1, 3, 1}, DType::Int32), values({3, 1}, {2}, DType::Int32)},
       .reference = broadcast_ref(Shape{1, 3, 1}),
       .tol = 0},
      {.op = "Expand",
       .label = "zero_size",
       .inputs = {uniform({3, 1}, 3013), values({0, 3, 1}, {3}, DType::Int64)},
       .reference = broadcast_ref(Shape{0, 3, 1})},
      {.op = "Expand",
       .label = "negative",
       .inputs = {uniform({3, 1}, 3014), values({-1, 3}, {2}, DType::Int64)},
       .error = "negative dimension -1"},
      {.op = "Expand",
       .label = "incompatible",
       .inputs = {uniform({3, 2}, 3015), values({3, 4}, {2}, DType::Int64)},
       .error = "do not broadcast"},
      {.op = "Expand",
       .label = "overflow",
       .inputs = {uniform({1, 1}, 3016),
                  Tensor::from_vector(Ints{int64_t{1} << 40, int64_t{1} << 40}, Shape{2})},
       .error = "overflows"},
      {.op = "Expand",
       .label = "float_target",
       .inputs = {uniform({1, 1}, 3017), values({2, 2}, {2})},
       .error = "must be Int64 or Int32"},
      {.op = "Expand",
       .label = "target_of_rank_2",
       .inputs = {uniform({1, 1}, 3018), values({2, 2}, {1, 2}, DType::Int64)},
       .error = "must be 1-D"},
      // FillV2: a tensor of a shape given as a tensor (known at run time), of one value.
      {.op = "FillV2",
       .label = "shape_from_a_tensor",
       .inputs = {values({2, 0, 3}, {3}, DType::Int64)},
       .attrs = {{"value", values({1.5}, {})}},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{Tensor(DType::Float32, Shape{2, 0, 3})};
           },
       .tol = 0},
      {.op = "FillV2",
       .label = "int32_shape_int64_fill",
       .inputs = {values({2, 2}, {2}, DType::Int32)},
       .attrs = {{"value", values({7}, {}, DType::Int64)}},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{values({7, 7, 7, 7}, {2, 2}, DType::Int64)};
           },
       .tol = 0},
      {.op = "FillV2",
       .label = "negative",
       .inputs = {values({2, -3}, {2}, DType::Int64)},
       .attrs = {{"value", values({0}, {})}},
       .error = "negative dimension -3"},
      // Range: start, limit, delta as scalar tensors (known at run time).
      {.op = "Range",
       .label = "int64_down",
       .inputs = {values({5}, {}, DType::Int64), values({-2}, {}, DType::Int64),
                  values({-3}, {}, DType::Int64)},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{values({5, 2, -1}, {3}, DType::Int64)};
           },
       .tol = 0},
      {.op = "Range",
       .label = "float_steps",
       .inputs = {values({0.5}, {}), values({2}, {}), values({0.5}, {})},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{values({0.5, 1, 1.5}, {3})};
           }},
      {.op = "Range",
       .label = "zero_delta",
       .inputs = {values({0}, {}, DType::Int32), values({3}, {}, DType::Int32),
                  values({0}, {}, DType::Int32)},
       .error = "delta must be non-zero"},
      // TensorShape: the input's dimensions, as Int64.
      {.op = "TensorShape",
       .label = "rank3",
       .inputs = {x234},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{values({2, 3, 4}, {3}, DType::Int64)};
           },
       .tol = 0},
      {.op = "TensorShape",
       .label = "scalar",
       .inputs = {values({5}, {})},
       .reference =
           [](const std::vector<Tensor>&, const ir::Attrs&) {
             return std::vector<Tensor>{Tensor(DType::Int64, Shape{0})};
           },
       .tol = 0},
      {.op = "Stack",
       .label = "axis1",
       .inputs = {uniform({2, 3}, 3007), uniform({2, 3}, 3008), uniform({2, 3}, 3009)},
       .attrs = {{"axis", int64_t{1}}},
       .reference = stack_ref},
      {.op = "Stack",
       .label = "last_axis_int64",
       .inputs = {values({1, 2}, {2}, DType::Int64), values({3, 4}, {2}, DType::Int64)},
       .attrs = {{"axis", int64_t{-1}}},
       .reference = stack_ref,
       .tol = 0},
      {.op = "Stack", .label = "one_input", .inputs = {x234}, .reference = stack_ref},
      {.op = "Stack",
       .label = "shapes_differ",
       .inputs = {uniform({2, 3}, 3010), uniform({3, 2}, 3011)},
       .error = "differs from input 0"},
      {.op = "Identity",
       .label = "f32",
       .inputs = {x234},
       .reference = same_values(Shape{2, 3, 4})},
      {.op = "Identity",
       .label = "bool",
       .inputs = {values({1, 0, 1}, {3}, DType::Bool)},
       .reference = same_values(Shape{3}),
       .tol = 0},
      {.op = "Split",
       .label = "three_equal",
       .inputs = {x2564},
       .attrs = {{"axis", int64_t{2}}, {"output_num", int64_t{3}}},
       .reference = split_ref(2, {2, 2, 2}, false)},
      {.op = "Split",
       .label = "sizes_negative_axis",
       .inputs = {x2564},
       .attrs = {{"axis", int64_t{-3}}, {"size_splits", Ints{1, 3, 1}}},
       .reference = split_ref(1, {1, 3, 1}, false)},
      {.op = "Split",
       .label = "size_minus_one",
       .inputs = {i6},
       .attrs = {{"size_splits", Ints{2, -1}}},
       .reference = split_ref(0, {2, 4}, false),
       .tol = 0},
      {.op = "Split",
       .label = "one_output",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{1}}},
       .reference = split_ref(1, {3}, false)},
      {.op = "Split",
       .label = "not_divisible",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{1}}, {"output_num", int64_t{2}}},
       .error = "does not split into 2"},
      {.op = "Split",
       .label = "sizes_do_not_add_up",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{2}}, {"size_splits", Ints{1, 2}}},
       .error = "add up to 3"},
      {.op = "Unstack",
       .label = "axis1",
       .inputs = {x345},
       .attrs = {{"axis", int64_t{1}}},
       .reference = split_ref(1, {1, 1, 1, 1}, true)},
      {.op = "Unstack",
       .label = "last_axis_int32",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {3, 2}, DType::Int32)},
       .attrs = {{"axis", int64_t{-1}}},
       .reference = split_ref(1, {1, 1}, true),
       .tol = 0},
      {.op = "Unstack",
       .label = "num_mismatch",
       .inputs = {x345},
       .attrs = {{"axis", int64_t{0}}, {"num", int64_t{4}}},
       .error = "differs from dimension 3"},
  };
}

const OpCaseTable kTensorForModels(model_cases);

}  // namespace
}  // namespace cellar::testing
