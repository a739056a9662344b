#pragma once
// Feed-forward activations over one vector; `out` may alias an input.
//
//   silu(x)      = x * sigmoid(x)
//   gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
//                = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))   (computed so)
//   swiglu       = silu(gate) * up            (Llama, Qwen, Mistral, DeepSeek)
//   geglu        = gelu_tanh(gate) * up       (Gemma)
//   swiglu_oai   = (clamp(up, -limit, limit) + 1) * g * sigmoid(alpha * g),
//                  g = min(gate, limit)       (gpt-oss, GptOssExperts._apply_gate;
//                  limit 7.0, alpha 1.702; gate is clamped from above only)
//
// Fast versions use exp_approx; references use double std::exp / std::tanh.
#include <span>

namespace pocketllm::ops {

inline constexpr float kOaiSwigluAlpha = 1.702f;
inline constexpr float kOaiSwigluLimit = 7.0f;

void silu(std::span<const float> x, std::span<float> out);
void gelu_tanh(std::span<const float> x, std::span<float> out);
void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out);
void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out);
void swiglu_oai(std::span<const float> gate, std::span<const float> up, std::span<float> out,
                float alpha = kOaiSwigluAlpha, float limit = kOaiSwigluLimit);

void silu_reference(std::span<const float> x, std::span<float> out);
void gelu_tanh_reference(std::span<const float> x, std::span<float> out);
void swiglu_reference(std::span<const float> gate, std::span<const float> up, std::span<float> out);
void geglu_reference(std::span<const float> gate, std::span<const float> up, std::span<float> out);
void swiglu_oai_reference(std::span<const float> gate, std::span<const float> up,
                          std::span<float> out, float alpha = kOaiSwigluAlpha,
                          float limit = kOaiSwigluLimit);

}  // namespace pocketllm::ops
