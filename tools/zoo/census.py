#!/usr/bin/env python3
"""Which ops the exported zoo uses, and which of them cellar's op table lacks.

Reads every ZOO/<model>/<model>.mindir that tools/zoo/export_mindcv.py wrote (MindIR is protobuf:
the schema is compiled from src/formats/mind_ir.proto with protoc at run time, so only the
`protobuf` Python package is needed, which MindSpore's venv has), counts each node's primitive
(graph plumbing such as MakeTuple, TupleGetItem, Depend, UpdateState, Load, Return not counted), and
asks `cellar ops --json` which primitives cellar knows. Prints a Markdown report: unknown op →
the models that need it, then each model's unknown ops.

    /opt/ms/bin/python tools/zoo/census.py --zoo /work/zoo --cellar build/cellar > /work/zoo/census.md
"""
import argparse
import collections
import glob
import importlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The reader's plumbing (src/formats/mindir/reader.cpp, is_plumbing): no row of the op table.
PLUMBING = {"MakeTuple", "make_list", "TupleGetItem", "Depend", "UpdateState", "Load", "Return",
            "Constant"}


def mind_ir_pb2():
    out = tempfile.mkdtemp(prefix="cellar-census-")
    proto_dir = os.path.join(ROOT, "src", "formats")
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out}",
                    os.path.join(proto_dir, "mind_ir.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("mind_ir_pb2")


def primitive_of(node, prims):
    op = node.op_type
    if op.startswith("REF::"):
        key = op[5:]
        p = prims.get(key)
        name = p.op_type if p is not None and p.op_type else key.split(":")[0]
    else:
        name = op
    return name[7:] if name.startswith("S-Prim-") else name


def ops_of(path, pb):
    m = pb.ModelProto()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    prims = {p.name: p for p in m.primitives}
    graphs = {g.name for g in m.functions}
    counts = collections.Counter()
    for g in [m.graph, *m.functions]:
        for n in g.node:
            name = primitive_of(n, prims)
            if name in PLUMBING:
                continue
            counts["(sub-graph call)" if n.op_type in graphs else name] += 1
    return counts


def known_primitives(cellar):
    table = json.loads(subprocess.run([cellar, "ops", "--json"], check=True, capture_output=True,
                                      text=True).stdout)
    known = set()
    for row in table["ops"]:
        if row.get("mindir"):
            known.add(row["mindir"])
        known.update(row.get("mindir_legacy", []))
        known.update(row.get("mindir_variants", []))
    return known


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default="/work/zoo")
    p.add_argument("--cellar", default=os.path.join(ROOT, "build", "cellar"))
    a = p.parse_args()
    pb = mind_ir_pb2()
    known = known_primitives(a.cellar)
    need = collections.defaultdict(list)
    per_model = {}
    for path in sorted(glob.glob(os.path.join(a.zoo, "*", "*.mindir"))):
        model = os.path.basename(os.path.dirname(path))
        counts = ops_of(path, pb)
        unknown = sorted(op for op in counts if op not in known)
        per_model[model] = (counts, unknown)
        for op in unknown:
            need[op].append(model)
    print(f"# Op census of {len(per_model)} MindIR files in {a.zoo}\n")
    ready = [m for m, (_, u) in per_model.items() if not u]
    print(f"{len(ready)} of {len(per_model)} use only ops cellar's table has.\n")
    print("| unknown op | models | which |\n|---|---|---|")
    for op, models in sorted(need.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {op} | {len(models)} | {', '.join(models)} |")
    print("\n| model | nodes | distinct ops | unknown ops |\n|---|---|---|---|")
    for model, (counts, unknown) in per_model.items():
        print(f"| {model} | {sum(counts.values())} | {len(counts)} | "
              f"{', '.join(f'{u} ×{counts[u]}' for u in unknown) or '–'} |")


if __name__ == "__main__":
    main()
