#include "backends/cpu/ops/elementwise.h"

#include "backends/cpu/ops/check.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm::ops {
namespace {

POCKETLLM_SIMD_CLONES void add_loop(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
POCKETLLM_SIMD_CLONES void mul_loop(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}
POCKETLLM_SIMD_CLONES void scale_loop(const float* x, float s, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}
POCKETLLM_SIMD_CLONES void add_scaled_loop(const float* x, float s, float* acc, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += s * x[i];
}

}  // namespace

void add(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  check_size("add", "b", b.size(), a.size());
  check_size("add", "out", out.size(), a.size());
  add_loop(a.data(), b.data(), out.data(), a.size());
}
void mul(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  check_size("mul", "b", b.size(), a.size());
  check_size("mul", "out", out.size(), a.size());
  mul_loop(a.data(), b.data(), out.data(), a.size());
}
void scale(std::span<const float> x, float s, std::span<float> out) {
  check_size("scale", "out", out.size(), x.size());
  scale_loop(x.data(), s, out.data(), x.size());
}
void add_scaled(std::span<const float> x, float s, std::span<float> acc) {
  check_size("add_scaled", "acc", acc.size(), x.size());
  add_scaled_loop(x.data(), s, acc.data(), x.size());
}

}  // namespace pocketllm::ops
