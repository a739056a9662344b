#pragma once
// Normalisations of one vector (a token's hidden state, or one head for
// q/k-norm); callers run rows in parallel. `out` may alias `x`.
//
//   rms_norm:   out = x / sqrt(mean(x^2) + eps) * w        (Llama, Qwen, ...)
//               out = x / sqrt(mean(x^2) + eps) * (1 + w)  (Gemma: stored w is the offset)
//   layer_norm: out = (x - mean) / sqrt(var + eps) * w + b (biased variance, as torch)
//
// An empty weight means 1 (and an empty bias 0). The fast versions sum in
// float over 16 lanes; the references sum in double, one element at a time.
#include <span>

namespace pocketllm::ops {

enum class NormWeight { Plain, OnePlus };

void rms_norm(std::span<const float> x, std::span<const float> weight, float eps, NormWeight mode,
              std::span<float> out);
void layer_norm(std::span<const float> x, std::span<const float> weight, std::span<const float> bias,
                float eps, std::span<float> out);

void rms_norm_reference(std::span<const float> x, std::span<const float> weight, float eps,
                        NormWeight mode, std::span<float> out);
void layer_norm_reference(std::span<const float> x, std::span<const float> weight,
                          std::span<const float> bias, float eps, std::span<float> out);

}  // namespace pocketllm::ops
