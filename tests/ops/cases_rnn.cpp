// Cases of the recurrent rows (issue 12 item 4): MindSpore's fused LSTM, one and two layers, one
// and two directions, with and without bias, against a step-by-step loop in double precision
// over the flat weight vector in MindSpore's CPU layout (src/ops/nn/lstm.cpp), with and without a
// projection (proj_size: h = W_hr · (σ(o)·tanh(c))).
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

struct LstmSizes {
  int64_t seq, batch, input, hidden, layers, dirs;
  bool bias;
  int64_t proj = 0;
};

// h's features: proj_size when projected.
int64_t real_hidden(const LstmSizes& s) { return s.proj ? s.proj : s.hidden; }
int64_t layer_input(const LstmSizes& s, int64_t l) {
  return l == 0 ? s.input : real_hidden(s) * s.dirs;
}

int64_t weight_count(const LstmSizes& s) {
  int64_t n = 0;
  for (int64_t l = 0; l < s.layers; ++l) n += s.dirs * 4 * s.hidden * layer_input(s, l);
  n += s.layers * s.dirs * 4 * s.hidden * real_hidden(s);
  n += s.layers * s.dirs * s.proj * s.hidden;
  if (s.bias) n += s.layers * s.dirs * 4 * s.hidden;
  return n;
}

ir::Attrs lstm_attrs(const LstmSizes& s) {
  return {{"input_size", s.input}, {"hidden_size", s.hidden},      {"num_layers", s.layers},
          {"has_bias", s.bias},    {"bidirectional", s.dirs == 2}, {"dropout", 0.0},
          {"proj_size", s.proj}};
}

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

// The plain recurrence: for each layer and direction, each step's four gates (i, f, g, o) from
// the weight vector's W_ih block, W_hh block and bias block; projected, h from the W_hr block.
OpReference lstm_ref(LstmSizes s) {
  return [s](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in[0]), h0 = as_doubles(in[1]), c0 = as_doubles(in[2]),
               w = as_doubles(in[3]);
    const int64_t H = s.hidden, D = s.dirs, B = s.batch, S = s.seq, R = real_hidden(s);
    std::vector<double> layer_in = x, hy = h0, cy = c0;
    int64_t ih = 0, ih_total = 0;
    for (int64_t l = 0; l < s.layers; ++l) ih_total += D * 4 * H * layer_input(s, l);
    std::vector<double> out;
    for (int64_t l = 0; l < s.layers; ++l) {
      const int64_t n_in = layer_input(s, l);
      out.assign(static_cast<size_t>(S * B * D * R), 0.0);
      for (int64_t d = 0; d < D; ++d) {
        const int64_t cell = l * D + d;
        const int64_t wi = ih + d * 4 * H * n_in;
        const int64_t wh = ih_total + cell * 4 * H * R;
        const int64_t wr = ih_total + s.layers * D * 4 * H * R + cell * s.proj * H;
        const int64_t wb = ih_total + s.layers * D * (4 * H * R + s.proj * H) + cell * 4 * H;
        std::vector<double> h(hy.begin() + cell * B * R, hy.begin() + (cell + 1) * B * R);
        std::vector<double> c(cy.begin() + cell * B * H, cy.begin() + (cell + 1) * B * H);
        for (int64_t step = 0; step < S; ++step) {
          const int64_t t = d == 0 ? step : S - 1 - step;
          std::vector<double> nh(static_cast<size_t>(B * H)), nc(c.size());
          for (int64_t b = 0; b < B; ++b)
            for (int64_t j = 0; j < H; ++j) {
              double g[4];
              for (int64_t k = 0; k < 4; ++k) {
                const int64_t r = k * H + j;
                double v = s.bias ? w[static_cast<size_t>(wb + r)] : 0.0;
                for (int64_t q = 0; q < n_in; ++q)
                  v += w[static_cast<size_t>(wi + r * n_in + q)] *
                       layer_in[static_cast<size_t>((t * B + b) * n_in + q)];
                for (int64_t q = 0; q < R; ++q)
                  v += w[static_cast<size_t>(wh + r * R + q)] * h[static_cast<size_t>(b * R + q)];
                g[k] = v;
              }
              const size_t at = static_cast<size_t>(b * H + j);
              nc[at] = sigmoid(g[1]) * c[at] + sigmoid(g[0]) * std::tanh(g[2]);
              nh[at] = sigmoid(g[3]) * std::tanh(nc[at]);
            }
          if (s.proj) {  // h = W_hr · nh
            std::vector<double> ph(static_cast<size_t>(B * R), 0.0);
            for (int64_t b = 0; b < B; ++b)
              for (int64_t k = 0; k < R; ++k)
                for (int64_t j = 0; j < H; ++j)
                  ph[static_cast<size_t>(b * R + k)] +=
                      w[static_cast<size_t>(wr + k * H + j)] * nh[static_cast<size_t>(b * H + j)];
            nh = ph;
          }
          for (int64_t b = 0; b < B; ++b)
            for (int64_t k = 0; k < R; ++k)
              out[static_cast<size_t>((t * B + b) * D * R + d * R + k)] =
                  nh[static_cast<size_t>(b * R + k)];
          h = nh;
          c = nc;
        }
        std::copy(h.begin(), h.end(), hy.begin() + cell * B * R);
        std::copy(c.begin(), c.end(), cy.begin() + cell * B * H);
      }
      ih += D * 4 * H * n_in;
      layer_in = out;
    }
    const DType dt = in[0].dtype();
    return std::vector<Tensor>{
        from_doubles(out, Shape{S, B, D * R}, dt), from_doubles(hy, in[1].shape(), dt),
        from_doubles(cy, in[2].shape(), dt), zeros(Shape{1, 1}, dt), zeros(Shape{1, 1}, dt)};
  };
}

OpCase lstm_case(const std::string& label, LstmSizes s, uint64_t seed, DType dt = DType::Float32) {
  const Shape state{s.layers * s.dirs, s.batch, s.hidden};
  const Shape h_state{s.layers * s.dirs, s.batch, real_hidden(s)};
  return {.op = "LSTM",
          .label = label,
          .inputs = {uniform(Shape{s.seq, s.batch, s.input}, seed, -1, 1, dt),
                     uniform(h_state, seed + 1, -1, 1, dt), uniform(state, seed + 2, -1, 1, dt),
                     uniform(Shape{weight_count(s), 1, 1}, seed + 3, -0.6, 0.6, dt)},
          .attrs = lstm_attrs(s),
          .reference = lstm_ref(s),
          .tol = dt == DType::Float64 ? 1e-12 : 2e-5};
}

const OpCaseTable kRnn([] {
  std::vector<OpCase> c = {
      lstm_case("one_layer", {5, 2, 3, 4, 1, 1, true}, 71),
      lstm_case("bidirectional", {4, 3, 3, 5, 1, 2, true}, 72),
      lstm_case("two_layers_no_bias", {3, 2, 4, 3, 2, 1, false}, 73),
      lstm_case("two_layers_bidirectional", {3, 1, 2, 3, 2, 2, true}, 74),
      lstm_case("float64", {3, 2, 2, 3, 1, 1, true}, 75, DType::Float64),
      lstm_case("empty_sequence", {0, 2, 3, 4, 1, 1, true}, 76),
  };
  c.back().no_onnx = "ONNX's LSTM needs at least one step";
  for (const auto& [label, sizes, seed] :
       {std::tuple{"projected", LstmSizes{4, 3, 3, 5, 1, 1, true, 2}, 82},
        std::tuple{"projected_bidirectional_no_bias", LstmSizes{3, 2, 2, 4, 1, 2, false, 3}, 83},
        std::tuple{"projected_float64", LstmSizes{3, 2, 2, 3, 1, 1, true, 1}, 84}}) {
    c.push_back(lstm_case(label, sizes, static_cast<uint64_t>(seed),
                          sizes.hidden == 3 ? DType::Float64 : DType::Float32));
    c.back().no_onnx = "ONNX's LSTM has no projection";
  }
  const LstmSizes s{2, 1, 3, 2, 1, 1, true};
  OpCase wrong_w = lstm_case("wrong_weight_count", s, 77);
  wrong_w.inputs[3] = uniform(Shape{weight_count(s) - 1, 1, 1}, 1);
  wrong_w.reference = nullptr;
  wrong_w.error = "w has 47 elements, but 48 are needed";
  OpCase wrong_input = lstm_case("input_size_mismatch", s, 78);
  wrong_input.attrs["input_size"] = int64_t{4};
  wrong_input.reference = nullptr;
  wrong_input.error = "is not input_size 4";
  OpCase wrong_h = lstm_case("state_shape", s, 79);
  wrong_h.inputs[1] = uniform(Shape{2, 1, 2}, 1);
  wrong_h.reference = nullptr;
  wrong_h.error = "h must be (1, 1, 2)";
  OpCase proj = lstm_case("projection_as_large_as_hidden", s, 80);
  proj.attrs["proj_size"] = int64_t{2};
  proj.reference = nullptr;
  proj.error = "proj_size must be in [0, hidden_size 2), got 2";
  OpCase proj_layers = lstm_case("projection_two_layers", {2, 1, 3, 2, 2, 1, true, 1}, 85);
  proj_layers.reference = nullptr;
  proj_layers.error = "proj_size 1 with 2 layers in one node is not supported";
  OpCase zero_hidden = lstm_case("zero_hidden", s, 81);
  zero_hidden.attrs["hidden_size"] = int64_t{0};
  zero_hidden.reference = nullptr;
  zero_hidden.error = "hidden_size must be in [1, 2^31]";
  for (auto* e : {&wrong_w, &wrong_input, &wrong_h, &proj, &proj_layers, &zero_hidden})
    c.push_back(*e);
  return c;
});

}  // namespace
}  // namespace cellar::testing
