// MindIR sub-graphs: MindSpore's control flow on tensor values. Exporting a construct with
// `if x.sum() > 0:` writes each branch as a function graph (ModelProto.functions) and, where the
// `if` was, Partial(branch, arguments...) for each branch, Switch(cond, partial_true,
// partial_false), and a call: a node whose op_type is "REF::<the Switch's value name>". A loop
// (`while x.sum() < 100:`) is a function that calls itself through the same Switch. A call can also
// name a function directly ("REF::<function name>"). Names of Constant nodes are global (a branch
// reads constants defined in another graph); other names are the graph's own ("<graph>:<name>").
// (What MindSpore 2.10 writes, seen in its exports of if, nested if and while.)
//
// cellar runs straight-line graphs, so a model with sub-graphs is flattened before it is read:
// every call is replaced by the body of the function it calls (arguments for its inputs, its
// nodes renamed per call), and a Switch's call by both branches and Select(cond, then, else) (per
// element when the branches return tuples, as an if assigning several variables does), the
// same value whenever both branches are free of side effects, which inference graphs are (both
// branches are computed). A function that calls itself (a loop: its trip count depends on the
// data) cannot be flattened: a call of it becomes one WhileLoop node (src/ops/control/
// while_loop.cpp) holding the loop's name and the report of what the model holds, so that the
// model loads and `cellar inspect` shows it; running that node is a typed error naming the loop.
// Any other shape of control flow is refused with that report: each sub-graph with its size and
// whether it calls itself, and the control-flow ops.
#include <map>
#include <memory>
#include <set>

#include "cellar/error.h"
#include "formats/mindir/mindir_impl.h"

namespace cellar::formats::mindir {

namespace {

// Caps a hostile file cannot push the flattener past: calls nested this deep, and nodes made.
constexpr size_t kMaxCallDepth = 64;
constexpr int kMaxFlatNodes = 1 << 20;

const char kSelectPrimitive[] = "Select:cellar_control_flow";
const char kLoopPrimitive[] = "WhileLoop:cellar_control_flow_";
const char kMakeTuplePrimitive[] = "MakeTuple:cellar_control_flow";

std::string primitive_of(const pb::NodeProto& n, const std::map<std::string, std::string>& prims) {
  const std::string& op = n.op_type();
  if (op.rfind("REF::", 0) != 0) return op;
  const std::string key = op.substr(5);
  auto it = prims.find(key);
  if (it == prims.end()) return "";
  return it->second.empty() ? key.substr(0, key.find(':')) : it->second;
}

class Flattener {
 public:
  Flattener(pb::ModelProto& m, std::string file) : m_(m), file_(std::move(file)) {
    for (const auto& p : m_.primitives()) prims_[p.name()] = p.op_type();
    for (const auto& f : m_.functions()) {
      if (!fns_.emplace(f.name(), &f).second)
        refuse("sub-graph '" + f.name() + "' is defined twice");
    }
    find_loops();
  }

  void run() {
    const pb::GraphProto& main = m_.graph();
    // Constants are global: every graph's, once each (MindSpore defines a shared one once).
    std::map<std::string, const pb::NodeProto*> constants;
    auto hoist = [&](const pb::GraphProto& g) {
      for (const auto& n : g.node()) {
        if (n.op_type() != "Constant" || n.output_size() != 1) continue;
        auto [it, fresh] = constants.emplace(n.output(0), &n);
        if (!fresh && it->second->SerializeAsString() != n.SerializeAsString())
          refuse("constant '" + n.output(0) + "' is defined twice with different values");
        if (fresh) *flat_.add_node() = n;
      }
    };
    hoist(main);
    for (const auto& f : m_.functions()) hoist(f);
    Names names;
    walk(main, names);
    // The main graph's outputs, through the names calls gave their results.
    for (int k = 0; k < main.output_size(); ++k) {
      pb::ValueInfoProto o = main.output(k);
      o.set_name(resolve(names, o.name()));
      *flat_.add_output() = std::move(o);
    }
    if (made_select_) {
      auto* p = m_.add_primitives();
      p->set_name(kSelectPrimitive);
      p->set_op_type("Select");
      p->set_prim_type(pb::PrimitiveProto::PRIMITIVE_FUNCTION);
    }
    if (made_tuple_) {
      auto* p = m_.add_primitives();
      p->set_name(kMakeTuplePrimitive);
      p->set_op_type("MakeTuple");
      p->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
    }
    pb::GraphProto* g = m_.mutable_graph();
    g->mutable_node()->Swap(flat_.mutable_node());
    g->mutable_output()->Swap(flat_.mutable_output());
    m_.clear_functions();
  }

 private:
  using Names = std::map<std::string, std::string>;  // a graph's own name → the flat graph's
  struct Closure {
    std::string fn;                 // Partial: the function
    std::vector<std::string> args;  // Partial: its bound arguments (flat names)
    std::string cond;               // Switch: the condition (flat name)
    std::shared_ptr<const Closure> then_, else_;
  };

  [[noreturn]] void refuse(const std::string& why) const {
    throw Error(ErrorCode::kUnsupported, report() + why, {.file = file_});
  }

  // What the model holds: each sub-graph with its node count (and whether it calls itself), and
  // the control-flow ops across the model.
  std::string report() const {
    std::map<std::string, int> flow;  // Switch, Partial, calls
    auto count = [&](const pb::GraphProto& g) {
      for (const auto& n : g.node()) {
        const std::string p = primitive_of(n, prims_);
        if (p == "Switch" || p == "Partial" || p == "Switch_layer")
          ++flow[p];
        else if (n.op_type().rfind("REF::", 0) == 0 && p.empty())
          ++flow["sub-graph call"];
      }
    };
    count(m_.graph());
    std::string subs;
    for (const auto& f : m_.functions()) {
      count(f);
      const bool self = loops_.count(f.name()) > 0;  // through other sub-graphs, maybe
      subs += (subs.empty() ? "" : ", ") + std::string("'") + f.name() + "' (" +
              std::to_string(f.node_size()) + " nodes" + (self ? ", calls itself" : "") + ")";
    }
    std::string ops;
    for (const auto& [op, k] : flow)
      ops += (ops.empty() ? "" : ", ") + op + " x" + std::to_string(k);
    return "the model holds " + std::to_string(m_.functions_size()) +
           " sub-graphs, MindSpore's control flow on tensor values: " + subs +
           "; control-flow ops: " + (ops.empty() ? "none" : ops) + ". ";
  }

  // The sub-graphs that reach themselves through calls and Partial references (loops).
  void find_loops() {
    std::map<std::string, std::set<std::string>> edges;
    for (const auto& [name, f] : fns_)
      for (const auto& n : f->node()) {
        const std::string& op = n.op_type();
        if (op.rfind("REF::", 0) == 0 && fns_.count(op.substr(5))) edges[name].insert(op.substr(5));
        if (fns_.count(op)) edges[name].insert(op);
        for (const auto& in : n.input())
          if (fns_.count(in)) edges[name].insert(in);
      }
    for (const auto& [name, f] : fns_) {
      std::set<std::string> seen;
      std::vector<std::string> todo(edges[name].begin(), edges[name].end());
      while (!todo.empty()) {
        const std::string g = todo.back();
        todo.pop_back();
        if (!seen.insert(g).second) continue;
        for (const auto& h : edges[g]) todo.push_back(h);
      }
      if (seen.count(name)) loops_.insert(name);
    }
  }

  // A call of the loop `fn` with `args`: one WhileLoop node, its own primitive carrying the
  // loop's name and the report.
  std::string loop(const std::string& fn, const std::vector<std::string>& args,
                   const pb::NodeProto& at) {
    if (args.empty()) refuse("the loop '" + fn + "' is called without arguments");
    const std::string key = kLoopPrimitive + std::to_string(loops_made_++);
    pb::PrimitiveProto* p = m_.add_primitives();
    p->set_name(key);
    p->set_op_type("WhileLoop");
    p->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
    auto text = [&](const std::string& name, const std::string& value) {
      pb::AttributeProto* a = p->add_attribute();
      a->set_name(name);
      a->set_type(pb::AttributeProto::STRING);
      a->set_s(value);
    };
    const std::string out = "cellar_loop_" + std::to_string(loops_made_ - 1) + ":" + at.output(0);
    text("loop", fn);
    text("node", out);
    text("report", report());
    pb::NodeProto node;
    node.set_name(out);
    node.add_output(out);
    node.set_op_type("REF::" + key);
    for (const auto& a : args) node.add_input(a);
    emit(std::move(node));
    return out;
  }

  std::string resolve(const Names& names, const std::string& name) const {
    auto it = names.find(name);
    return it == names.end() ? name : it->second;
  }

  void walk(const pb::GraphProto& g, Names& names) {
    for (const auto& n : g.node()) {
      if (n.op_type() == "Constant") continue;  // hoisted
      const std::string prim = primitive_of(n, prims_);
      if (n.output_size() != 1 && (prim == "Partial" || prim == "Switch" || prim.empty()))
        refuse("node '" + n.name() + "' (" + n.op_type() + ") has " +
               std::to_string(n.output_size()) + " outputs");
      if (prim == "Partial") {
        if (n.input_size() < 1 || !fns_.count(n.input(0)))
          refuse("Partial node '" + n.name() + "' does not name a sub-graph");
        auto c = std::make_shared<Closure>();
        c->fn = n.input(0);
        for (int k = 1; k < n.input_size(); ++k) c->args.push_back(resolve(names, n.input(k)));
        closures_[bind(names, n.output(0))] = std::move(c);
        continue;
      }
      if (prim == "Switch") {
        if (n.input_size() != 3) refuse("Switch node '" + n.name() + "' does not have 3 inputs");
        auto t = closures_.find(resolve(names, n.input(1)));
        auto e = closures_.find(resolve(names, n.input(2)));
        if (t == closures_.end() || e == closures_.end())
          refuse("Switch node '" + n.name() +
                 "' chooses between values that are not sub-graphs (Partial nodes)");
        auto c = std::make_shared<Closure>();
        c->cond = resolve(names, n.input(0));
        c->then_ = t->second;
        c->else_ = e->second;
        closures_[bind(names, n.output(0))] = std::move(c);
        continue;
      }
      const bool bare_call = fns_.count(n.op_type()) > 0;  // 1.x style: the function's name
      if (bare_call || (prim.empty() && n.op_type().rfind("REF::", 0) == 0)) {  // a call
        const std::string key = bare_call ? n.op_type() : n.op_type().substr(5);
        std::vector<std::string> extra;
        for (const auto& in : n.input()) extra.push_back(resolve(names, in));
        std::shared_ptr<const Closure> c;
        if (auto it = closures_.find(resolve(names, key)); it != closures_.end()) {
          c = it->second;
        } else if (fns_.count(key)) {
          auto direct = std::make_shared<Closure>();
          direct->fn = key;
          c = std::move(direct);
        } else {
          continue;  // an undefined primitive: the reader names it
        }
        names[n.output(0)] = call(*c, extra, n);
        continue;
      }
      pb::NodeProto copy = n;
      for (int k = 0; k < copy.input_size(); ++k) copy.set_input(k, resolve(names, copy.input(k)));
      for (int k = 0; k < copy.output_size(); ++k) copy.set_output(k, bind(names, copy.output(k)));
      if ((prim == "MakeTuple" || prim == "make_list") && copy.output_size() == 1)
        tuples_[copy.output(0)] = {copy.input().begin(), copy.input().end()};
      if (!copy.name().empty()) copy.set_name(bind(names, copy.name()));
      emit(std::move(copy));
    }
  }

  // The flat name of a value graph `names` defines: its own in the main graph (depth 0), a name
  // unique to this call in an inlined body.
  std::string bind(Names& names, const std::string& name) {
    if (stack_.empty()) return name;
    auto it = names.find(name);
    if (it != names.end()) return it->second;
    const std::string flat = name + "@" + std::to_string(instance_);
    names[name] = flat;
    return flat;
  }

  void emit(pb::NodeProto n) {
    if (flat_.node_size() >= kMaxFlatNodes)
      refuse("flattening its calls makes more than " + std::to_string(kMaxFlatNodes) + " nodes");
    *flat_.add_node() = std::move(n);
  }

  // The flat name of the value a call of `c` with `extra` arguments gives.
  std::string call(const Closure& c, const std::vector<std::string>& extra,
                   const pb::NodeProto& at) {
    if (!c.fn.empty()) {
      std::vector<std::string> args = c.args;
      args.insert(args.end(), extra.begin(), extra.end());
      if (loops_.count(c.fn)) return loop(c.fn, args, at);
      return inline_fn(c.fn, args);
    }
    const std::string a = call(*c.then_, extra, at), b = call(*c.else_, extra, at);
    const pb::AttributeProto* shape = nullptr;
    for (const auto& attr : at.attribute())
      if (attr.name() == "shape") shape = &attr;  // the call's recorded type
    return select(c.cond, a, b, shape, at.output(0), 0);
  }

  // The value that is `a` where `cond` holds and `b` elsewhere: a Select of two tensors, or, when
  // both branches give tuples (an if that assigns several variables), a tuple of such values.
  std::string select(const std::string& cond, const std::string& a, const std::string& b,
                     const pb::AttributeProto* shape, const std::string& hint, size_t depth) {
    if (a == b) return a;
    if (depth > kMaxTupleDepth) refuse("the branches of an if return tuples nested too deeply");
    const std::string out = "cellar_if_" + std::to_string(selects_++) + ":" + hint;
    pb::NodeProto node;
    node.set_name(out);
    node.add_output(out);
    auto ta = tuples_.find(a), tb = tuples_.find(b);
    if (ta != tuples_.end() && tb != tuples_.end()) {
      const std::vector<std::string> xs = ta->second, ys = tb->second;
      if (xs.size() != ys.size())
        refuse("the branches of an if return tuples of " + std::to_string(xs.size()) + " and " +
               std::to_string(ys.size()) + " elements");
      const bool typed = shape != nullptr && shape->values_size() == static_cast<int>(xs.size());
      std::vector<std::string> items;
      for (size_t k = 0; k < xs.size(); ++k)
        items.push_back(select(cond, xs[k], ys[k],
                               typed ? &shape->values(static_cast<int>(k)) : nullptr,
                               hint + "." + std::to_string(k), depth + 1));
      node.set_op_type(std::string("REF::") + kMakeTuplePrimitive);
      for (const auto& item : items) node.add_input(item);
      tuples_[out] = items;
      made_tuple_ = true;
    } else {
      node.set_op_type(std::string("REF::") + kSelectPrimitive);
      node.add_input(cond);
      node.add_input(a);
      node.add_input(b);
      if (shape != nullptr) {
        pb::AttributeProto* t = node.add_attribute();
        *t = *shape;
        t->set_name("shape");
      }
      made_select_ = true;
    }
    emit(std::move(node));
    return out;
  }

  std::string inline_fn(const std::string& fn, const std::vector<std::string>& args) {
    const pb::GraphProto& f = *fns_.at(fn);
    for (const auto& s : stack_)
      if (s == fn)
        refuse("sub-graph '" + fn +
               "' calls itself (a loop, whose number of iterations depends on the data): cellar "
               "runs straight-line graphs and flattens if/else, not loops");
    if (stack_.size() >= kMaxCallDepth)
      refuse("calls nest more than " + std::to_string(kMaxCallDepth) + " deep");
    if (f.parameter_size() > 0) refuse("sub-graph '" + fn + "' has parameters of its own");
    if (f.input_size() != static_cast<int>(args.size()))
      refuse("sub-graph '" + fn + "' takes " + std::to_string(f.input_size()) +
             " inputs but is called with " + std::to_string(args.size()));
    if (f.output_size() != 1) refuse("sub-graph '" + fn + "' does not have one output");
    Names names;
    for (int k = 0; k < f.input_size(); ++k)
      names[f.input(k).name()] = args[static_cast<size_t>(k)];
    stack_.push_back(fn);
    const int saved = instance_;
    instance_ = ++instances_;
    walk(f, names);
    instance_ = saved;
    stack_.pop_back();
    return resolve(names, f.output(0).name());
  }

  pb::ModelProto& m_;
  std::string file_;
  std::map<std::string, std::string> prims_;  // primitive key → op_type
  std::map<std::string, const pb::GraphProto*> fns_;
  std::map<std::string, std::shared_ptr<const Closure>> closures_;  // by flat value name
  pb::GraphProto flat_;
  std::vector<std::string> stack_;  // functions being inlined
  int instance_ = 0, instances_ = 0, selects_ = 0, loops_made_ = 0;
  std::set<std::string> loops_;  // sub-graphs that call themselves
  bool made_select_ = false, made_tuple_ = false;
  std::map<std::string, std::vector<std::string>> tuples_;  // MakeTuple outputs → their items
};

}  // namespace

void flatten_control_flow(pb::ModelProto& model, const std::string& file) {
  if (model.functions_size() == 0) return;
  Flattener(model, file).run();
}

}  // namespace cellar::formats::mindir
