#include "ops/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cellar::ops {

namespace {

Isa best_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
#endif
  return Isa::kNone;
}

Isa initial_isa() { return isa_from_env(std::getenv("CELLAR_ISA"), best_isa()); }

std::atomic<Isa>& chosen() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

Isa isa_from_env(const char* value, Isa best) {
  if (value != nullptr)
    for (Isa isa : {Isa::kNone, Isa::kAvx2, Isa::kAvx512})
      if (std::strcmp(value, isa_name(isa)) == 0 && static_cast<int>(isa) <= static_cast<int>(best))
        return isa;
  return best;
}

bool cpu_has(Isa isa) {
  static const Isa best = best_isa();
  return static_cast<int>(isa) <= static_cast<int>(best);
}

Isa kernel_isa() { return chosen().load(std::memory_order_relaxed); }

Isa force_isa(Isa isa) {
  if (!cpu_has(isa))
    throw std::invalid_argument(std::string("force_isa: this CPU cannot run ") + isa_name(isa));
  return chosen().exchange(isa, std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kNone:
      break;
  }
  return "none";
}

}  // namespace cellar::ops
