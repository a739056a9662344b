#pragma once
// AVX2 + FMA + F16C inner loops of paged attention: the query heads that share
// one KV head against a run of key rows of one block, reading f32, f16 or
// bf16 K/V in place (converted in registers, no tile copy). Head dims must be
// multiples of 8; usable() says whether this CPU runs them.
// Row j of n starts at element j * dim.
#include <cstddef>
#include <cstdint>

namespace pocketllm::attention_avx2 {

bool usable();

// How the K/V rows are stored: f32, f16 or bf16 values.
enum class Rows { F32, F16, BF16 };

// scores[r * scores_stride + j] = scale * q_r . k_j for r < n_heads, j < n;
// q_r = q + r * dk, k_j = k + j * dk (stored as k_rows).
void scores(const float* q, uint32_t n_heads, const void* k, Rows k_rows, size_t n, size_t dk, float scale,
            float* scores, size_t scores_stride);

// acc_r = alpha[r] * acc_r + sum_j p[r * p_stride + j] v_j for r < n_heads;
// acc_r = acc + r * dv, v_j = v + j * dv (stored as v_rows).
void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                const void* v, Rows v_rows, size_t n, size_t dv);

}  // namespace pocketllm::attention_avx2
