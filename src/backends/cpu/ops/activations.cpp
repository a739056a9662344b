#include "backends/cpu/ops/activations.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "backends/cpu/ops/check.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm::ops {
namespace {

// 2 * sqrt(2 / pi): gelu_tanh(x) = x * sigmoid(kGeluScale * (x + 0.044715 x^3)).
constexpr float kGeluScale = static_cast<float>(2.0 * 0.7978845608028654);
constexpr float kGeluCubic = 0.044715f;

inline float silu_one(float x) { return x * sigmoid_approx(x); }
inline float gelu_one(float x) { return x * sigmoid_approx(kGeluScale * (x + kGeluCubic * x * x * x)); }

POCKETLLM_SIMD_CLONES void silu_loop(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = silu_one(x[i]);
}
POCKETLLM_SIMD_CLONES void gelu_loop(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = gelu_one(x[i]);
}
POCKETLLM_SIMD_CLONES void swiglu_loop(const float* gate, const float* up, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = silu_one(gate[i]) * up[i];
}
POCKETLLM_SIMD_CLONES void geglu_loop(const float* gate, const float* up, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = gelu_one(gate[i]) * up[i];
}
POCKETLLM_SIMD_CLONES void swiglu_oai_loop(const float* gate, const float* up, float* out, size_t n,
                                           float alpha, float limit) {
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i] > limit ? limit : gate[i];
    const float u = up[i] > limit ? limit : (up[i] < -limit ? -limit : up[i]);
    out[i] = (u + 1.0f) * (g * sigmoid_approx(alpha * g));
  }
}

double sigmoid_exact(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double silu_exact(double x) { return x * sigmoid_exact(x); }
double gelu_exact(double x) {
  return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

void check_unary(const char* op, std::span<const float> x, std::span<float> out) {
  check_size(op, "out", out.size(), x.size());
}
void check_gated(const char* op, std::span<const float> gate, std::span<const float> up,
                 std::span<float> out) {
  check_size(op, "up", up.size(), gate.size());
  check_size(op, "out", out.size(), gate.size());
}

}  // namespace

void silu(std::span<const float> x, std::span<float> out) {
  check_unary("silu", x, out);
  silu_loop(x.data(), out.data(), x.size());
}
void gelu_tanh(std::span<const float> x, std::span<float> out) {
  check_unary("gelu_tanh", x, out);
  gelu_loop(x.data(), out.data(), x.size());
}
void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  check_gated("swiglu", gate, up, out);
  swiglu_loop(gate.data(), up.data(), out.data(), gate.size());
}
void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  check_gated("geglu", gate, up, out);
  geglu_loop(gate.data(), up.data(), out.data(), gate.size());
}
void swiglu_oai(std::span<const float> gate, std::span<const float> up, std::span<float> out,
                float alpha, float limit) {
  check_gated("swiglu_oai", gate, up, out);
  swiglu_oai_loop(gate.data(), up.data(), out.data(), gate.size(), alpha, limit);
}

void silu_reference(std::span<const float> x, std::span<float> out) {
  check_unary("silu_reference", x, out);
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(silu_exact(static_cast<double>(x[i])));
}
void gelu_tanh_reference(std::span<const float> x, std::span<float> out) {
  check_unary("gelu_tanh_reference", x, out);
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(gelu_exact(static_cast<double>(x[i])));
}
void swiglu_reference(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  check_gated("swiglu_reference", gate, up, out);
  for (size_t i = 0; i < gate.size(); ++i) {
    out[i] = static_cast<float>(silu_exact(static_cast<double>(gate[i])) * static_cast<double>(up[i]));
  }
}
void geglu_reference(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  check_gated("geglu_reference", gate, up, out);
  for (size_t i = 0; i < gate.size(); ++i) {
    out[i] = static_cast<float>(gelu_exact(static_cast<double>(gate[i])) * static_cast<double>(up[i]));
  }
}
void swiglu_oai_reference(std::span<const float> gate, std::span<const float> up,
                          std::span<float> out, float alpha, float limit) {
  check_gated("swiglu_oai_reference", gate, up, out);
  for (size_t i = 0; i < gate.size(); ++i) {
    const double g = std::min(static_cast<double>(gate[i]), static_cast<double>(limit));
    const double u =
        std::clamp(static_cast<double>(up[i]), -static_cast<double>(limit), static_cast<double>(limit));
    out[i] = static_cast<float>((u + 1.0) * g * sigmoid_exact(static_cast<double>(alpha) * g));
  }
}

}  // namespace pocketllm::ops
