"""Benchmark scripts (run them as modules: python -m bench.bench_kernels)."""
