// roofline.h — the device's peak rates, measured by small kernels of our own (roofline.cu), for the
// kernel study's "fraction of peak" (docs/KERNELS.md): FP32 FMA throughput (no tensor cores), TF32
// and BF16 tensor-core throughput (WMMA, FP32 accumulation), and DRAM bandwidth (a large copy).
// Each is the best of a few timed runs. Under the CPU emulator the tensor-core rates are 0 (no
// tensor cores to measure) and the others mean nothing; the bench does not time there.
#pragma once

namespace cxr::cuda {

struct RooflineRates {
  double fp32_gflops = 0;  // FFMA, 2 flops each
  double tf32_gflops = 0;  // wmma m16n16k8 tf32
  double bf16_gflops = 0;  // wmma m16n16k16 bf16
  double dram_gbps = 0;    // bytes read + written per second, copying 1 GiB
};

RooflineRates measure_roofline();

// Writes a buffer twice the size of the L2 cache, so the next kernel starts with a cold cache.
void flush_l2();

}  // namespace cxr::cuda
