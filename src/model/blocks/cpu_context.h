#pragma once
// What every block needs to compute on the CPU: the thread pool that ops
// split their work over, the matmul kernels picked for this CPU, and the
// scratch that quantized activations are written to. One per model; it grows
// to the largest batch seen and is then reused (no allocation per layer).
#include <cstddef>
#include <cstdint>
#include <span>
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

  // pool.size() slots of at least `bytes` each, whole cache lines apart (no
  // two threads write one line): each thread's own quantized copy of a
  // decode token (linear.cpp). Grows to the largest asked for, then reused.
  std::span<std::byte> thread_activation_slots(size_t bytes) {
    constexpr size_t kLine = 64;
    const size_t slot = (bytes + kLine - 1) / kLine * kLine;
    const size_t need = slot * pool.size();
    if (thread_activation_scratch_.size() < need + kLine - 1) thread_activation_scratch_.resize(need + kLine - 1);
    const auto misalignment = reinterpret_cast<uintptr_t>(thread_activation_scratch_.data()) % kLine;
    return std::span(thread_activation_scratch_).subspan(misalignment == 0 ? 0 : kLine - misalignment, need);
  }

 private:
  std::vector<std::byte> thread_activation_scratch_;
};

}  // namespace pocketllm
