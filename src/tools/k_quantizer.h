#pragma once
// f32 -> K-quant super-blocks (256 elements): ggml's reference quantizers
// quantize_row_q4_K_ref, quantize_row_q5_K_ref and quantize_row_q6_K_ref
// (ggml-quants.c, what llama-quantize runs without an importance matrix),
// step by step. Used through weight_quantizer.h, which states the error
// bounds; `n` is a multiple of kQKK (256) there.
#include <cstdint>

namespace pocketllm {

void quantize_q4_k(const float* x, void* out, int64_t n);
void quantize_q5_k(const float* x, void* out, int64_t n);
void quantize_q6_k(const float* x, void* out, int64_t n);

}  // namespace pocketllm
