"""Element types with MindSpore's names: ``cellar.float32`` prints as ``Float32``.

MindSpore: ``mindspore.float32``, ``from mindspore import dtype as mstype``.
"""
from ._cellar import DType

bool_ = DType.Bool
int8 = DType.Int8
int16 = DType.Int16
int32 = DType.Int32
int64 = DType.Int64
uint8 = DType.UInt8
uint16 = DType.UInt16
uint32 = DType.UInt32
uint64 = DType.UInt64
float16 = DType.Float16
bfloat16 = DType.BFloat16
float32 = DType.Float32
float64 = DType.Float64
string = DType.String
# MindSpore's aliases.
half = float16
single = float32
double = float64
