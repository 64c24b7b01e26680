// bench_ops.cpp — placeholder
