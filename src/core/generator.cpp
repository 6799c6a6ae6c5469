#include "cellar/generator.h"

namespace cellar {

Generator::Generator() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  engine_.seed(seq);
}

}  // namespace cellar
