// Emptied: the cases of the math rows (Erf … Cast) are in tests/ops/cases_math.cpp, run by
// test_op_table. The lead removes this file at merge.
