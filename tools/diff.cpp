// `cellar diff A B`: what differs between two files of tensors (checkpoints, or the parameters
// of graphs, in any of the four formats).
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>

#include "cli.h"
#include "progress.h"
#include "stats.h"

namespace cellar::cli {

namespace {

struct DiffArgs {
  std::string a, b;
  double atol = 0, rtol = 0;
  bool ignore_dtype = false;
  bool json = false;
  std::string dec_key_file, dec_key_file_b, dec_mode;
};

struct ValueDiff {
  std::string name;
  double max_abs = 0;       // over element pairs where neither is NaN
  uint64_t mismatches = 0;  // elements beyond atol + rtol·|b|, NaN against a number included
};

// Element-wise comparison of two tensors of one shape, numpy.isclose's rule:
// |a - b| <= atol + rtol·|b|; NaN equals NaN, inf equals inf of the same sign.
ValueDiff compare_values(const std::string& name, const Tensor& ta, const Tensor& tb, double atol,
                         double rtol) {
  ValueDiff d{name};
  const size_t n = static_cast<size_t>(ta.numel());
  if (ta.dtype() == tb.dtype() && ta.nbytes() == tb.nbytes() &&
      (ta.nbytes() == 0 || std::memcmp(ta.raw_data(), tb.raw_data(), ta.nbytes()) == 0))
    return d;  // the same bytes: equal, whatever the dtype
  if (ta.dtype() == DType::String || tb.dtype() == DType::String) {
    const bool same = ta.dtype() == tb.dtype() && ta.string_value() == tb.string_value();
    d.mismatches = same ? 0 : 1;
    d.max_abs = same ? 0 : std::nan("");
    return d;
  }
  const std::byte* pa = ta.raw_data();
  const std::byte* pb = tb.raw_data();
  const size_t ia = itemsize(ta.dtype()), ib = itemsize(tb.dtype());
  with_element_loader(ta.dtype(), [&](auto la) {
    with_element_loader(tb.dtype(), [&](auto lb) {
      double mx = 0;
      uint64_t bad = 0;
      for (size_t i = 0; i < n; ++i) {
        const double x = la(pa + i * ia), y = lb(pb + i * ib);
        if (x == y) continue;  // also inf == inf
        const bool xn = std::isnan(x), yn = std::isnan(y);
        if (xn || yn) {
          bad += !(xn && yn);
          continue;
        }
        const double diff = std::fabs(x - y);
        mx = diff > mx ? diff : mx;
        bad += !(diff <= atol + rtol * std::fabs(y));
      }
      d.max_abs = mx;
      d.mismatches = bad;
    });
  });
  return d;
}

int run_diff(const DiffArgs& a) {
  if (!(a.atol >= 0) || !(a.rtol >= 0)) throw UsageError("--atol and --rtol must be >= 0");
  // A key is used for the file(s) that are encrypted; B may have its own.
  const std::string key = a.dec_key_file.empty() ? "" : read_key_file(a.dec_key_file);
  const std::string key_b = a.dec_key_file_b.empty() ? key : read_key_file(a.dec_key_file_b);
  auto key_for = [&](const std::string& path, const std::string& k) {
    return detect(path) == FileKind::kEncrypted ? KeyOptions{k, a.dec_mode} : KeyOptions{};
  };
  const NamedTensorList A = load_tensors(a.a, key_for(a.a, key)),
                        B = load_tensors(a.b, key_for(a.b, key_b));
  std::map<std::string, const Tensor*> in_b;
  for (const auto& [n, t] : B.tensors) in_b[n] = &t;
  std::map<std::string, bool> in_a;
  for (const auto& [n, t] : A.tensors) in_a[n] = true;

  std::vector<std::string> only_a, only_b;
  struct Pair {
    std::string name, a, b;
  };
  std::vector<Pair> dtype_diffs, shape_diffs;
  std::vector<ValueDiff> values;
  uint64_t total = 0, done = 0;
  for (const auto& [n, t] : A.tensors) total += t.nbytes();
  Progress bar("comparing", total);
  for (const auto& [name, ta] : A.tensors) {
    const auto it = in_b.find(name);
    if (it == in_b.end()) {
      only_a.push_back(name);
      continue;
    }
    const Tensor& tb = *it->second;
    const bool numeric = ta.dtype() != DType::String && tb.dtype() != DType::String;
    if (ta.dtype() != tb.dtype()) {
      if (!(a.ignore_dtype && numeric))
        dtype_diffs.push_back({name, dtype_str(ta.dtype()), dtype_str(tb.dtype())});
      if (!numeric) continue;
    }
    if (ta.shape() != tb.shape()) {
      shape_diffs.push_back({name, ta.shape().str(), tb.shape().str()});
      continue;
    }
    values.push_back(compare_values(name, ta, tb, a.atol, a.rtol));
    done += ta.nbytes();
    bar.update(done);
  }
  bar.finish();
  for (const auto& [n, t] : B.tensors)
    if (!in_a.count(n)) only_b.push_back(n);
  size_t value_diffs = 0;
  for (const ValueDiff& v : values) value_diffs += v.mismatches > 0;
  const bool equal = only_a.empty() && only_b.empty() && dtype_diffs.empty() &&
                     shape_diffs.empty() && value_diffs == 0;

  if (a.json) {
    auto pairs = [](const std::vector<Pair>& v) {
      json arr = json::array();
      for (const Pair& p : v) arr.push_back({{"name", p.name}, {"a", p.a}, {"b", p.b}});
      return arr;
    };
    json vals = json::array();
    for (const ValueDiff& v : values)
      vals.push_back({{"name", v.name},
                      {"max_abs_diff", json_num(v.max_abs)},
                      {"mismatches", v.mismatches},
                      {"equal", v.mismatches == 0}});
    print_json(json{{"a", a.a},
                    {"b", a.b},
                    {"atol", a.atol},
                    {"rtol", a.rtol},
                    {"equal", equal},
                    {"only_in_a", only_a},
                    {"only_in_b", only_b},
                    {"dtype_differs", pairs(dtype_diffs)},
                    {"shape_differs", pairs(shape_diffs)},
                    {"tensors", vals}});
    return equal ? kExitOk : kExitDiffer;
  }
  auto names = [](const char* title, const std::vector<std::string>& v) {
    if (v.empty()) return;
    std::cout << title << ": " << v.size() << '\n';
    for (const auto& n : v) std::cout << "  " << printable(n) << '\n';
  };
  auto pairs = [](const char* title, const std::vector<Pair>& v) {
    if (v.empty()) return;
    std::cout << title << ": " << v.size() << '\n';
    std::vector<std::vector<std::string>> cells;
    for (const Pair& p : v) cells.push_back({p.name, p.a, p.b});
    print_table(std::cout, cells, "  ");
  };
  names("only in A", only_a);
  names("only in B", only_b);
  pairs("dtype differs (A, B)", dtype_diffs);
  pairs("shape differs (A, B)", shape_diffs);
  if (!values.empty()) {
    std::cout << "values: " << values.size() << " tensors compared, " << value_diffs << " differ\n";
    std::vector<std::vector<std::string>> cells{{"name", "max_abs_diff", "mismatches"}};
    for (const ValueDiff& v : values)
      cells.push_back({v.name, fmt_num(v.max_abs), std::to_string(v.mismatches)});
    print_table(std::cout, cells, "  ");
  }
  std::cout << (equal ? "equal" : "different") << " (atol " << fmt_num(a.atol) << ", rtol "
            << fmt_num(a.rtol) << ")\n";
  return equal ? kExitOk : kExitDiffer;
}

}  // namespace

Command add_diff(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* sub = app.add_subcommand("diff", "Compare the tensors of two files");
  sub->add_option("A", args->a, "first file (.ckpt, .safetensors, .mindir or .onnx)")->required();
  sub->add_option("B", args->b, "second file")->required();
  sub->add_option("--atol", args->atol, "absolute tolerance (default 0: exact)");
  sub->add_option("--rtol", args->rtol, "relative tolerance, times |B| (default 0)");
  sub->add_flag("--ignore-dtype", args->ignore_dtype,
                "compare values across numeric dtypes without calling the dtype a difference");
  sub->add_flag("--json", args->json, "print one JSON object instead of text");
  sub->add_option("--dec-key-file", args->dec_key_file,
                  "key of whichever of A and B is encrypted (a plain file ignores it)");
  sub->add_option("--dec-key-file-b", args->dec_key_file_b, "key of B, when it differs from A's");
  sub->add_option("--dec-mode", args->dec_mode,
                  "AES-GCM, AES-CBC or SM4-CBC (default: the mode the file names)");
  sub->footer(
      "Lists names only in A and only in B, dtype and shape differences, and for every tensor\n"
      "in both the maximum absolute difference and how many elements differ beyond\n"
      "|a - b| <= atol + rtol*|b| (NaN equals NaN). For graphs, their parameters are compared.\n\n"
      "Exit status: 0 equal within the tolerances, 3 different, 1 a file cannot be read,\n"
      "2 bad usage.\n\n"
      "Examples:\n"
      "  cellar diff a.ckpt b.ckpt\n"
      "  cellar diff model.ckpt model.safetensors --atol 1e-3 --ignore-dtype --json\n"
      "  cellar diff plain.ckpt secret.ckpt --dec-key-file key.bin");
  return {sub, [args] { return run_diff(*args); }};
}

}  // namespace cellar::cli
