// Everything a user of cellar includes.
#pragma once

#include "cellar/dtype.h"
#include "cellar/error.h"
#include "cellar/generator.h"
#include "cellar/io/checkpoint.h"
#include "cellar/io/export.h"
#include "cellar/ir/graph.h"
#include "cellar/nn/cell.h"
#include "cellar/nn/graph_cell.h"
#include "cellar/nn/layers.h"
#include "cellar/nn/parameter.h"
#include "cellar/ops.h"
#include "cellar/runtime/executor.h"
#include "cellar/storage.h"
#include "cellar/tensor.h"
#include "cellar/value.h"
