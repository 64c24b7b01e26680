// bench_conv.cpp — placeholder
