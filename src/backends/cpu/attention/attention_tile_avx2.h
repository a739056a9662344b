#pragma once
// AVX2 + FMA + F16C inner loops of paged attention: the query heads that share
// one KV head against a run of key rows of one block, reading f32 or f16 K/V
// in place (f16 converted in registers, no tile copy). Head dims must be
// multiples of 8; usable() says whether this CPU runs them.
#include <cstddef>
#include <cstdint>

namespace pocketllm::attention_avx2 {

bool usable();

// scores[r * scores_stride + j] = scale * q_r . k_j for r < n_heads, j < n;
// q_r = q + r * dk, k_j = k + j * dk (f16 when k_f16).
void scores(const float* q, uint32_t n_heads, const void* k, bool k_f16, size_t n, size_t dk, float scale,
            float* scores, size_t scores_stride);

// acc_r = alpha[r] * acc_r + sum_j p[r * p_stride + j] v_j for r < n_heads;
// acc_r = acc + r * dv, v_j = v + j * dv (f16 when v_f16).
void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                const void* v, bool v_f16, size_t n, size_t dv);

}  // namespace pocketllm::attention_avx2
