// LSTM(x, h, c, w; input_size, hidden_size, num_layers, has_bias, bidirectional, dropout,
// proj_size) → (y, hy, cy, reserve, state): MindSpore's fused LSTM primitive, which nn.LSTM
// writes on CPU and GPU (2.10's nn/layer/rnns.py, _DynamicLSTMCPUGPU: one node per layer and
// direction, num_layers 1, the backward direction run on ReverseV2 of the sequence). x is
// (seq, batch, input_size), h and c are (num_layers · D, batch, hidden) with D = 2 when
// bidirectional; y is (seq, batch, D · hidden) (the directions side by side), hy and cy the last
// states in h's layout. w is the flat weight vector MindSpore's CPU kernel reads (checked against
// MindSpore 2.10: the rows below reproduce ops.LSTM to 1e-7 for 1 and 2 layers, one and two
// directions), in three blocks, each over (layer, direction) in that order:
//   every W_ih (4·hidden × layer input), then every W_hh (4·hidden × hidden), then (has_bias)
//   every bias (4·hidden; nn.LSTM passes b_ih + b_hh),
// where a layer's input is input_size for layer 0 and D · hidden after. Gates in the order
// i, f, g, o (PyTorch's): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'). Any shape of w with
// that element count is taken (MindSpore makes it (n, 1, 1)). reserve and state are the (1, 1)
// placeholders MindSpore's CPU graph records; they are zeros. dropout acts only in training and is
// ignored. MindSpore writes the Python PRIMITIVE "LSTM" with these as attributes, in 1.x and 2.x
// alike.
// proj_size P in (0, hidden) makes a projected LSTM (as torch's and MindSpore's ops.LSTM define
// it): h' = W_hr · (σ(o)·tanh(c')), so h, hy and y carry P features instead of hidden (c stays
// hidden), W_hh is (4·hidden × P), a later layer's input D · P, and the flat vector holds every
// W_hr (P × hidden) as a block of its own between the W_hh block and the biases (checked against
// MindSpore 2.10's CPU kernel, one layer, one and two directions, with and without bias, to 1e-7).
// MindSpore's CPU kernel refuses num_layers > 1 with a projection (oneDNN has no primitive for
// it; nn.LSTM writes one node per layer anyway), so no file holds that layout: refused too. ONNX's
// LSTM has no projection: such a node cannot be written to ONNX.
//
// ONNX: each layer is one ONNX LSTM (gates i, o, f, c; W, R, B per direction, B holding W's
// and R's biases apart): written with the flat vector sliced, its gate blocks reordered and the
// bias put in Wb (Rb zero); ONNX's Y (seq, D, batch, hidden) transposed to y. Read back the same
// way round, forward and bidirectional, layout 0 and 1, without sequence_lens (unless every length
// is the whole sequence), peepholes, clip, input_forget or non-default activations.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/gemm.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "LSTM";

[[noreturn]] void bad(const std::string& why) {
  throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": " + why);
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) bad("the weight size overflows");
  return r;
}
int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) bad("the weight size overflows");
  return r;
}

struct Plan {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, layers = 1, dirs = 1;
  int64_t proj = 0;  // 0: no projection
  bool bias = true;
  int64_t ih_total = 0, weights = 0;  // elements of the W_ih block, of the whole vector

  // The features of h (and of y per direction): proj_size when projected, else hidden.
  int64_t out() const { return proj > 0 ? proj : hidden; }
  int64_t layer_input(int64_t l) const { return l == 0 ? input : out() * dirs; }
  int64_t ih_offset(int64_t l, int64_t d) const {
    int64_t off = 0;
    for (int64_t k = 0; k < l; ++k) off += dirs * 4 * hidden * layer_input(k);
    return off + d * 4 * hidden * layer_input(l);
  }
  int64_t hh_offset(int64_t l, int64_t d) const {
    return ih_total + (l * dirs + d) * 4 * hidden * out();
  }
  int64_t hr_offset(int64_t l, int64_t d) const {  // proj > 0 only
    return ih_total + layers * dirs * 4 * hidden * out() + (l * dirs + d) * proj * hidden;
  }
  int64_t bias_offset(int64_t l, int64_t d) const {
    return ih_total + layers * dirs * (4 * hidden * out() + proj * hidden) +
           (l * dirs + d) * 4 * hidden;
  }
};

// The attributes alone (also what the ONNX writer needs).
Plan attr_plan(const ir::Attrs& a) {
  Plan p;
  p.input = attr_int(a, kOp, "input_size");
  p.hidden = attr_int(a, kOp, "hidden_size");
  p.layers = attr_int(a, kOp, "num_layers", 1);
  p.bias = attr_bool(a, kOp, "has_bias", true);
  p.dirs = attr_bool(a, kOp, "bidirectional", false) ? 2 : 1;
  const double dropout = attr_double(a, kOp, "dropout", 0.0);
  p.proj = attr_int(a, kOp, "proj_size", 0);
  constexpr int64_t kMax = int64_t{1} << 31;
  if (p.input < 1 || p.input > kMax)
    bad("input_size must be in [1, 2^31], got " + std::to_string(p.input));
  if (p.hidden < 1 || p.hidden > kMax)
    bad("hidden_size must be in [1, 2^31], got " + std::to_string(p.hidden));
  if (p.layers < 1 || p.layers > 4096)
    bad("num_layers must be in [1, 4096], got " + std::to_string(p.layers));
  if (!(dropout >= 0 && dropout < 1)) bad("dropout must be in [0, 1)");
  if (p.proj < 0 || p.proj >= p.hidden)
    bad("proj_size must be in [0, hidden_size " + std::to_string(p.hidden) + "), got " +
        std::to_string(p.proj));
  if (p.proj > 0 && p.layers > 1)
    throw ValueError(ErrorCode::kUnsupported,
                     std::string(kOp) + ": proj_size " + std::to_string(p.proj) + " with " +
                         std::to_string(p.layers) +
                         " layers in one node is not supported (MindSpore's CPU kernel refuses it "
                         "too; nn.LSTM writes one node per layer)");
  const int64_t gates = checked_mul(4, p.hidden);
  for (int64_t l = 0; l < p.layers; ++l)
    p.ih_total = checked_add(p.ih_total, checked_mul(p.dirs, checked_mul(gates, p.layer_input(l))));
  const int64_t cells = checked_mul(p.layers, p.dirs);
  p.weights = checked_add(p.ih_total, checked_mul(cells, checked_mul(gates, p.out())));
  p.weights = checked_add(p.weights, checked_mul(cells, checked_mul(p.proj, p.hidden)));
  if (p.bias) p.weights = checked_add(p.weights, checked_mul(cells, gates));
  return p;
}

Plan plan(std::span<const TensorType> in, const ir::Attrs& a) {
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  require_same_dtype(kOp, in);
  Plan p = attr_plan(a);
  const Shape& x = in[0].shape;
  if (x.rank() != 3) shape_error(kOp, "x must be (seq, batch, input_size), got " + x.str());
  if (x[2] != p.input)
    shape_error(kOp, "x's last dimension " + std::to_string(x[2]) + " is not input_size " +
                         std::to_string(p.input));
  p.seq = x[0];
  p.batch = x[1];
  const Shape state{p.layers * p.dirs, p.batch, p.hidden};
  const Shape h_state{p.layers * p.dirs, p.batch, p.out()};
  if (in[1].shape != h_state)
    shape_error(kOp, "h must be " + h_state.str() + " (num_layers · directions, batch, " +
                         (p.proj ? "proj_size" : "hidden") + "), got " + in[1].shape.str());
  if (in[2].shape != state)
    shape_error(kOp, "c must be " + state.str() +
                         " (num_layers · directions, batch, hidden), got " + in[2].shape.str());
  if (in[3].shape.numel() != p.weights)
    shape_error(kOp, "w has " + std::to_string(in[3].shape.numel()) + " elements, but " +
                         std::to_string(p.weights) + " are needed for these sizes " +
                         (p.bias ? "with" : "without") + " bias");
  return p;
}

std::vector<TensorType> infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Plan p = plan(in, attrs);
  const DType dt = in[0].dtype;
  return {{dt, Shape{p.seq, p.batch, p.dirs * p.out()}},
          {dt, in[1].shape},
          {dt, in[2].shape},
          {dt, Shape{1, 1}},
          {dt, Shape{1, 1}}};
}

template <class T>
T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

template <class T>
Kernel lstm_kernel(Plan p) {
  return [p](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
    const T* x = in[0].data<T>();
    const T* h0 = in[1].data<T>();
    const T* c0 = in[2].data<T>();
    const T* w = in[3].data<T>();
    T* y = out[0].data<T>();
    T* hy = out[1].data<T>();
    T* cy = out[2].data<T>();
    out[3].data<T>()[0] = T(0);
    out[4].data<T>()[0] = T(0);
    const int64_t H = p.hidden, G = 4 * H, B = p.batch, S = p.seq, D = p.dirs, R = p.out();
    const int64_t row = D * R;  // a layer's output per (step, batch)
    const size_t pre = static_cast<size_t>(S * B * G), rec = static_cast<size_t>(B * G);
    const size_t buf = p.layers > 1 ? static_cast<size_t>(S * B * row) : 0;
    const size_t unproj = p.proj ? static_cast<size_t>(B * H) : 0;  // σ(o)·tanh(c) per step
    T* gx = par.scratch<T>(0, pre + rec + 2 * buf + unproj);
    T* gh = gx + pre;
    T* bufs[2] = {gh + rec, gh + rec + buf};
    T* m = gh + rec + 2 * buf;
    std::memcpy(hy, h0, static_cast<size_t>(in[1].numel()) * sizeof(T));
    std::memcpy(cy, c0, static_cast<size_t>(in[2].numel()) * sizeof(T));
    for (int64_t l = 0; l < p.layers; ++l) {
      const T* src = l == 0 ? x : bufs[(l - 1) % 2];
      T* dst = l == p.layers - 1 ? y : bufs[l % 2];
      const int64_t in_size = p.layer_input(l);
      for (int64_t d = 0; d < D; ++d) {
        const T* w_ih = w + p.ih_offset(l, d);
        const T* w_hh = w + p.hh_offset(l, d);
        const T* bias = p.bias ? w + p.bias_offset(l, d) : nullptr;
        const T* w_hr = p.proj ? w + p.hr_offset(l, d) : nullptr;
        T* h = hy + (l * D + d) * B * R;
        T* c = cy + (l * D + d) * B * H;
        // The input's share of every step's gates at once: (S·B × in) · W_ihᵀ.
        gemm(par, false, true, S * B, G, in_size, src, in_size, w_ih, in_size, gx, G);
        for (int64_t s = 0; s < S; ++s) {
          const int64_t t = d == 0 ? s : S - 1 - s;
          gemm(par, false, true, B, G, R, h, R, w_hh, R, gh, G);
          for (int64_t b = 0; b < B; ++b) {
            const T* gxr = gx + (t * B + b) * G;
            const T* ghr = gh + b * G;
            T* hb = p.proj ? m + b * H : h + b * H;
            T* cb = c + b * H;
            T* yb = dst + (t * B + b) * row + d * R;
            for (int64_t j = 0; j < H; ++j) {
              auto gate = [&](int64_t k) {
                return gxr[k * H + j] + ghr[k * H + j] + (bias ? bias[k * H + j] : T(0));
              };
              const T i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = std::tanh(gate(2)),
                      o = sigmoid(gate(3));
              cb[j] = f * cb[j] + i * g;
              hb[j] = o * std::tanh(cb[j]);
              if (!p.proj) yb[j] = hb[j];
            }
          }
          if (p.proj) {  // h = (σ(o)·tanh(c)) · W_hrᵀ, (B × H) · (H × P)
            gemm(par, false, true, B, R, H, m, H, w_hr, H, h, R);
            for (int64_t b = 0; b < B; ++b)
              std::memcpy(dst + (t * B + b) * row + d * R, h + b * R,
                          static_cast<size_t>(R) * sizeof(T));
          }
        }
      }
    }
  };
}

// ---- ONNX ----

// Blocks of 4 gates: MindSpore's i, f, g, o from ONNX's i, o, f, c, and back.
const std::vector<int64_t> kFromOnnx = {0, 2, 3, 1};
const std::vector<int64_t> kToOnnx = {0, 3, 1, 2};

void export_lstm(OnnxBuilder& b, const ir::Node& n) {
  const Plan p = onnx_checked(b, n, [&] {
    std::vector<TensorType> in;
    for (int v : n.inputs) in.push_back({b.info(v).dtype, b.info(v).shape});
    return plan(in, n.attrs);
  });
  if (p.proj) b.fail(n, "ONNX's LSTM has no projection (proj_size " + std::to_string(p.proj) + ")");
  const std::string base = b.name(n.outputs.at(0));
  const int64_t H = p.hidden, D = p.dirs;
  const std::string w1 = b.fresh(base + "/w");
  b.add("Reshape", {b.name(n.inputs.at(3)), b.ints(base + "/flat", {p.weights})}, {w1});
  // Elements [off, off + 4·H·cols) of the flat vector as ONNX's (1, 4H, cols) in ONNX's gate order.
  auto block = [&](const std::string& hint, int64_t off, int64_t cols) {
    const std::string s = b.fresh(hint), r = b.fresh(hint), g = b.fresh(hint), o = b.fresh(hint);
    b.add("Slice",
          {w1, b.ints(hint + "/begin", {off}), b.ints(hint + "/end", {off + 4 * H * cols}),
           b.ints(hint + "/axes", {0})},
          {s});
    b.add("Reshape", {s, b.ints(hint + "/gates", {4, H, cols})}, {r});
    b.add("Gather", {r, b.ints(hint + "/order", kToOnnx)}, {g}, {{"axis", int64_t{0}}});
    b.add("Reshape", {g, b.ints(hint + "/shape", {1, 4 * H, cols})}, {o});
    return o;
  };
  auto concat0 = [&](const std::vector<std::string>& parts, const std::string& hint, int64_t axis) {
    if (parts.size() == 1) return parts[0];
    const std::string o = b.fresh(hint);
    b.add("Concat", parts, {o}, {{"axis", axis}});
    return o;
  };
  const DType dt = b.info(n.inputs[0]).dtype;
  std::string layer_in = b.name(n.inputs[0]);
  std::vector<std::string> hs, cs;
  for (int64_t l = 0; l < p.layers; ++l) {
    const std::string tag = base + "/l" + std::to_string(l);
    std::vector<std::string> ws, rs, bs;
    for (int64_t d = 0; d < D; ++d) {
      const std::string td = tag + "d" + std::to_string(d);
      ws.push_back(block(td + "/W", p.ih_offset(l, d), p.layer_input(l)));
      rs.push_back(block(td + "/R", p.hh_offset(l, d), H));
      if (p.bias) {
        const std::string wb = block(td + "/Wb", p.bias_offset(l, d), 1), flat = b.fresh(td);
        b.add("Reshape", {wb, b.ints(td + "/Wb/row", {1, 4 * H})}, {flat});
        const std::string zero = b.constant(td + "/Rb", zeros(Shape{1, 4 * H}, dt));
        bs.push_back(concat0({flat, zero}, td + "/B", 1));
      }
    }
    auto states = [&](int v, const std::string& hint) {
      const std::string o = b.fresh(hint);
      b.add("Slice",
            {b.name(n.inputs.at(static_cast<size_t>(v))), b.ints(hint + "/begin", {l * D}),
             b.ints(hint + "/end", {(l + 1) * D}), b.ints(hint + "/axes", {0})},
            {o});
      return o;
    };
    const std::string yl = b.fresh(tag + "/Y"), hl = b.fresh(tag + "/Y_h"),
                      cl = b.fresh(tag + "/Y_c");
    b.add("LSTM",
          {layer_in, concat0(ws, tag + "/W", 0), concat0(rs, tag + "/R", 0),
           p.bias ? concat0(bs, tag + "/B", 0) : std::string(), std::string(),
           states(1, tag + "/initial_h"), states(2, tag + "/initial_c")},
          {yl, hl, cl},
          {{"hidden_size", H}, {"direction", std::string(D == 2 ? "bidirectional" : "forward")}});
    hs.push_back(hl);
    cs.push_back(cl);
    const std::string yt = b.fresh(tag + "/Yt");
    b.add("Transpose", {yl}, {yt}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
    const std::string next = l == p.layers - 1 ? base : b.fresh(tag + "/out");
    b.add("Reshape", {yt, b.ints(tag + "/out_shape", {p.seq, p.batch, D * H})}, {next});
    layer_in = next;
  }
  auto join = [&](const std::vector<std::string>& parts, int v) {
    const std::string& name = b.name(n.outputs.at(static_cast<size_t>(v)));
    b.add(parts.size() == 1 ? "Identity" : "Concat", parts, {name},
          parts.size() == 1 ? OnnxAttrs{} : OnnxAttrs{{"axis", int64_t{0}}});
  };
  join(hs, 1);
  join(cs, 2);
  for (size_t k = 3; k < 5; ++k)
    if (b.used(n.outputs.at(k)))
      b.add("Identity", {b.constant(base + "/placeholder", zeros(Shape{1, 1}, dt))},
            {b.name(n.outputs[k])});
}

void import_lstm(OnnxImporter& m) {
  m.require_inputs(3, 8);
  const std::string direction = m.attr_string("direction", "forward");
  if (direction != "forward" && direction != "bidirectional")
    m.unsupported("direction \"" + direction + "\" (only forward and bidirectional are supported)");
  for (const char* a : {"activations", "activation_alpha", "activation_beta", "clip"})
    if (m.has_attr(a)) m.unsupported(std::string("attribute '") + a + "' is not supported");
  if (m.attr_int("input_forget", 0) != 0) m.unsupported("input_forget is not supported");
  const int64_t layout = m.attr_int("layout", 0);
  if (layout != 0 && layout != 1) m.fail("layout must be 0 or 1");
  if (m.has_input(7)) m.unsupported("peephole weights (input P) are not supported");
  const int64_t D = direction == "bidirectional" ? 2 : 1;
  int x = m.input(0);
  if (m.rank(x) != 3) m.fail("X must have rank 3");
  if (layout == 1) x = m.emit1("Transpose", {x}, {{"perm", std::vector<int64_t>{1, 0, 2}}});
  const Shape xs = m.info(x).shape;
  const int64_t S = xs[0], B = xs[1], I = xs[2];
  const int w = m.input(1), r = m.input(2);
  const Shape ws = m.info(w).shape, rs = m.info(r).shape;
  if (ws.rank() != 3 || ws[0] != D || ws[1] % 4 != 0 || ws[1] == 0 || ws[2] != I)
    m.fail("W must be (" + std::to_string(D) + ", 4·hidden, " + std::to_string(I) + "), got " +
           ws.str());
  const int64_t H = ws[1] / 4;
  if (m.has_attr("hidden_size") && m.attr_int("hidden_size", 0) != H)
    m.fail("hidden_size disagrees with W's " + ws.str());
  if (rs != Shape{D, 4 * H, H})
    m.fail("R must be " + Shape{D, 4 * H, H}.str() + ", got " + rs.str());
  m.require_full_sequence_lens(4, B, S, "LSTM");
  // (D, 4H, cols) in ONNX's gate order → MindSpore's, flat.
  auto reorder = [&](int v, int64_t cols) {
    const int g = m.emit1("Reshape", {v}, {{"shape", std::vector<int64_t>{D, 4, H, cols}}});
    return m.emit1("Reshape", {m.take(g, 1, kFromOnnx)},
                   {{"shape", std::vector<int64_t>{D * 4 * H * cols}}});
  };
  std::vector<int> parts = {reorder(w, I), reorder(r, H)};
  const bool has_bias = m.has_input(3);
  if (has_bias) {
    const int bv = m.input(3);
    if (m.info(bv).shape != Shape{D, 8 * H})
      m.fail("B must be " + Shape{D, 8 * H}.str() + ", got " + m.info(bv).shape.str());
    const int two = m.emit1("Reshape", {bv}, {{"shape", std::vector<int64_t>{D, 2, 4 * H}}});
    const int sum =
        m.emit1("ReduceSum", {two}, {{"axis", std::vector<int64_t>{1}}, {"keep_dims", false}});
    parts.push_back(reorder(sum, 1));
  }
  const int flat = m.emit1("Concat", parts, {{"axis", int64_t{0}}});
  const int64_t n = m.info(flat).shape.numel();
  const int wv = m.emit1("Reshape", {flat}, {{"shape", std::vector<int64_t>{n, 1, 1}}});
  const DType dt = m.info(x).dtype;
  auto state = [&](size_t i) {
    if (!m.has_input(i)) {
      m.charge_generated(static_cast<uint64_t>(D * B * H) * itemsize(dt));
      return m.constant(zeros(Shape{D, B, H}, dt));
    }
    const int s = m.input(i);
    return layout == 1 ? m.emit1("Transpose", {s}, {{"perm", std::vector<int64_t>{1, 0, 2}}}) : s;
  };
  const std::vector<int> outs = m.emit(kOp, {x, state(5), state(6), wv},
                                       {{"input_size", I},
                                        {"hidden_size", H},
                                        {"num_layers", int64_t{1}},
                                        {"has_bias", has_bias},
                                        {"bidirectional", D == 2},
                                        {"dropout", 0.0},
                                        {"proj_size", int64_t{0}}});
  if (m.has_output(0)) {
    const int y4 = m.emit1("Reshape", {outs[0]}, {{"shape", std::vector<int64_t>{S, B, D, H}}});
    const std::vector<int64_t> perm =
        layout == 0 ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{1, 0, 2, 3};
    m.set_output(0, m.emit1("Transpose", {y4}, {{"perm", perm}}));
  }
  for (size_t k = 1; k < 3; ++k)
    if (m.num_outputs() > k && m.has_output(k))
      m.set_output(k, layout == 0 ? outs[k]
                                  : m.emit1("Transpose", {outs[k]},
                                            {{"perm", std::vector<int64_t>{1, 0, 2}}}));
}

}  // namespace

CELLAR_REGISTER_OPS(lstm) {
  table.add({.name = kOp,
             .min_inputs = 4,
             .max_inputs = 4,
             .num_outputs = 5,
             .infer = infer,
             .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
               const Plan p = plan(in, attrs);
               if (in[0].dtype == DType::Float64) return lstm_kernel<double>(p);
               return lstm_kernel<float>(p);
             },
             .mindir = {.primitive = kOp,
                        .defaults = {{"num_layers", int64_t{1}},
                                     {"has_bias", true},
                                     {"bidirectional", false},
                                     {"dropout", 0.0},
                                     {"proj_size", int64_t{0}}},
                        .primitive_function = false},
             .onnx = export_lstm,
             .onnx_import = {{"LSTM", import_lstm}},
             .work = work_recurrent});
}

}  // namespace cellar::ops
