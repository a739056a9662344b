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
  // two threads write one line), in activation_scratch (grown to
  // thread_activation_bytes): each thread's own quantized copy of a decode
  // token (linear.cpp).
  std::span<std::byte> thread_activation_slots(size_t bytes) {
    const size_t need = thread_activation_bytes(bytes, pool.size());
    if (activation_scratch.size() < need) activation_scratch.resize(need);
    const auto misalignment = reinterpret_cast<uintptr_t>(activation_scratch.data()) % kCacheLine;
    return std::span(activation_scratch)
        .subspan(misalignment == 0 ? 0 : kCacheLine - misalignment, slot_bytes(bytes) * pool.size());
  }

  // Scratch bytes that thread_activation_slots(token_bytes) takes for `threads` threads.
  static size_t thread_activation_bytes(size_t token_bytes, unsigned threads) {
    return slot_bytes(token_bytes) * threads + kCacheLine - 1;  // + room to start on a line
  }

 private:
  static constexpr size_t kCacheLine = 64;
  static size_t slot_bytes(size_t token_bytes) { return (token_bytes + kCacheLine - 1) / kCacheLine * kCacheLine; }
};

}  // namespace pocketllm
