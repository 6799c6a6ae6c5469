// A seedable random-number generator. Passed explicitly to whatever draws from it (parameter
// initialisers, random ops): cellar keeps no global generator.
#pragma once

#include <cstdint>
#include <random>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

class Generator {
 public:
  explicit Generator(uint64_t seed) : engine_(seed) {}
  // Seeded from std::random_device.
  Generator();

  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(engine_);
  }
  double normal(double mean, double stddev) {
    return std::normal_distribution<double>(mean, stddev)(engine_);
  }
  uint64_t next() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace cellar

CELLAR_API_END
