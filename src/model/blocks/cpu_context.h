#pragma once
// What every block needs to compute on the CPU: the thread pool that ops
// split their work over, the matmul kernels picked for this CPU, and the
// scratch that quantized activations are written to. One per model; it grows
// to the largest batch seen and is then reused (no allocation per layer).
#include <cstddef>
#include <vector>

#include "backends/cpu/matmul/matmul.h"
#include "backends/cpu/thread_pool.h"

namespace pocketllm {

struct CpuContext {
  CpuContext(ThreadPool& thread_pool, MatmulKernels matmul_kernels)
      : pool(thread_pool), kernels(matmul_kernels) {}

  ThreadPool& pool;
  MatmulKernels kernels;
  std::vector<std::byte> activation_scratch;  // quantized X rows (Q8x32 / Q8_K), see matmul.h
};

}  // namespace pocketllm
