#pragma once
// The inner loops of attention_tile_avx2.h on 512-bit vectors (AVX-512F):
// the same contracts, head dims multiples of 16. accumulate() does each
// lane's arithmetic in the AVX2 order (the same bits); scores() sums a dot
// product in 16 lanes rather than 8 (its own bits, the same on every run).
// Measured on Zen 5 (pocketllm-bench-attention, 4K context, 2 threads,
// with the KV pool on huge pages): f16 K/V 32 heads / 8 KV heads, head dim
// 64: 11.6 -> 8.4 ms per row through 16 layers; head dim 128: 25.6 -> 17.1
// ms; whole model, TinyLlama Q4_0 tg64 at depth 4096: 34.5-36.2 -> 42.0 t/s.
#include <cstddef>
#include <cstdint>

#include "backends/cpu/attention/attention_tile_avx2.h"

namespace pocketllm::attention_avx512 {

using attention_avx2::Rows;

bool usable();

void scores(const float* q, uint32_t n_heads, const void* k, Rows k_rows, size_t n, size_t dk, float scale,
            float* scores, size_t scores_stride);

void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                const void* v, Rows v_rows, size_t n, size_t dv);

}  // namespace pocketllm::attention_avx512
