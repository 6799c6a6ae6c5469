// Cases of the control-flow rows: WhileLoop, which the MindIR reader puts where a model calls a
// sub-graph that calls itself (src/formats/mindir/control_flow.cpp), and which does not run.
#include <string>
#include <vector>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

const OpCaseTable kControl([] {
  return std::vector<OpCase>{
      {.op = "WhileLoop",
       .label = "running_names_the_loop",
       .inputs = {uniform({2, 3}, 5001)},
       .attrs = {{"loop", std::string("header_graph")},
                 {"node", std::string("loop_node")},
                 {"report", std::string("the model holds 3 sub-graphs")}},
       .error = "node 'loop_node' (WhileLoop): MindSpore's while loop over sub-graph "
                "'header_graph' loads, but cellar runs straight-line graphs and does not run "
                "loops"},
      {.op = "WhileLoop",
       .label = "attributes_are_text",
       .inputs = {uniform({2}, 5002)},
       .attrs = {{"loop", int64_t{3}}},
       .error = "attribute 'loop' must be text"},
  };
});

}  // namespace
}  // namespace cellar::testing
