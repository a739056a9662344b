#pragma once
// Rotary position embedding: the frequencies of every scaling the target
// models use (as transformers' modeling_rope_utils computes them), and the
// rotation of a token's heads in both pair layouts.
//
// Glossary: n_dims = rotated dims per head (partial rotary rotates the first
// n_dims of head_dim and leaves the rest); inv_freq[i] = theta^(-2i/n_dims)
// before scaling, i < n_dims/2; angle = position * inv_freq[i] (in float,
// as transformers does); attention_factor multiplies cos and sin (YaRN).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/model_desc.h"

namespace pocketllm::ops {

struct RopeFrequencies {
  std::vector<float> inv_freq;   // [n_dims / 2]
  float attention_factor = 1.0f;  // YaRN: cos and sin are multiplied by it
};

// inv_freq and attention factor for `rope` (n_dims, theta, scaling None /
// Linear / Llama3 / Yarn). Gemma 3's sliding layers (sliding_layer with
// theta_sliding set) use theta_sliding and no scaling. Throws InputError for
// an odd or zero n_dims or parameters that make no sense (factor <= 0, ...).
RopeFrequencies rope_frequencies(const RopeDesc& rope, bool sliding_layer = false);

// YaRN's magnitude correction 0.1 * mscale * ln(factor) + 1 (1 for factor <= 1).
// DeepSeek multiplies its softmax scale by yarn_get_mscale(factor, mscale_all_dim)^2.
double yarn_get_mscale(double factor, double mscale = 1.0);

// GGUF rope_freqs tensor (llama3 models converted by llama.cpp): per-pair
// divisors of the base frequency, inv_freq[i] /= factors[i].
void apply_rope_freq_factors(std::span<float> inv_freq, std::span<const float> factors);

// cos / sin [n_dims / 2] of one position.
void rope_cos_sin(int64_t position, std::span<const float> inv_freq, float attention_factor,
                  std::span<float> cos, std::span<float> sin);

// Rotates x [n_heads, head_dim] (one token) in place by cos / sin [n_dims / 2].
// HalfSplit pairs element i with i + n_dims/2 (NeoX, HF rotate_half);
// Interleaved pairs 2i with 2i+1 (GPT-J, llama.cpp "normal", DeepSeek-V2 in HF).
// Each pair (a, b) becomes (a cos - b sin, b cos + a sin).
void rope_apply(std::span<float> x, size_t n_heads, size_t head_dim, RopeLayout layout,
                std::span<const float> cos, std::span<const float> sin);
void rope_apply_reference(std::span<float> x, size_t n_heads, size_t head_dim, RopeLayout layout,
                          std::span<const float> cos, std::span<const float> sin);

}  // namespace pocketllm::ops
