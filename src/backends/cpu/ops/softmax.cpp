#include "backends/cpu/ops/softmax.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "backends/cpu/ops/lane_sum.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm::ops {

POCKETLLM_SIMD_CLONES float max_of(const float* x, size_t n) {
  float acc[kLanes];
  for (float& a : acc) a = -std::numeric_limits<float>::infinity();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) acc[j] = acc[j] < x[i + j] ? x[i + j] : acc[j];
  }
  for (size_t j = 0; i + j < n; ++j) acc[j] = acc[j] < x[i + j] ? x[i + j] : acc[j];
  float m = acc[0];
  for (size_t j = 1; j < kLanes; ++j) m = m < acc[j] ? acc[j] : m;
  return m;
}

// x_i = e^(x_i - m); returns the sum.
POCKETLLM_SIMD_CLONES float exp_shifted_sum(float* x, size_t n, float m) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      x[i + j] = exp_approx(x[i + j] - m);
      acc[j] += x[i + j];
    }
  }
  for (size_t j = 0; i + j < n; ++j) {
    x[i + j] = exp_approx(x[i + j] - m);
    acc[j] += x[i + j];
  }
  return reduce_lanes(acc);
}

namespace {

POCKETLLM_SIMD_CLONES void scale_in_place(float* x, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

void softmax_impl(std::span<float> x, bool has_sink, float sink) {
  if (x.empty()) return;
  float m = max_of(x.data(), x.size());
  if (has_sink && sink > m) m = sink;
  if (std::isinf(m) && m < 0) throw std::invalid_argument("softmax: every logit is -inf");
  float sum = exp_shifted_sum(x.data(), x.size(), m);
  if (has_sink) sum += exp_approx(sink - m);
  scale_in_place(x.data(), x.size(), 1.0f / sum);
}

void softmax_reference_impl(std::span<float> x, bool has_sink, float sink) {
  if (x.empty()) return;
  // The max taken in float is exact (widening is monotonic); gcc 12 for
  // aarch64 crashes vectorizing an fmax reduction that widens to double.
  float max_logit = has_sink ? sink : -std::numeric_limits<float>::infinity();
  for (const float v : x) max_logit = std::fmax(max_logit, v);
  const auto m = static_cast<double>(max_logit);
  double sum = has_sink ? std::exp(static_cast<double>(sink) - m) : 0.0;
  for (const float v : x) sum += std::exp(static_cast<double>(v) - m);
  for (float& v : x) v = static_cast<float>(std::exp(static_cast<double>(v) - m) / sum);
}

}  // namespace

void softmax(std::span<float> x) { softmax_impl(x, false, 0.0f); }
void softmax_with_sink(std::span<float> x, float sink) { softmax_impl(x, true, sink); }
void softmax_reference(std::span<float> x) { softmax_reference_impl(x, false, 0.0f); }
void softmax_with_sink_reference(std::span<float> x, float sink) {
  softmax_reference_impl(x, true, sink);
}

void soft_cap(std::span<float> x, float cap) {
  if (!(cap > 0.0f)) throw std::invalid_argument("soft_cap: cap must be positive");
  const float inverse = 1.0f / cap;
  for (float& v : x) v = cap * std::tanh(v * inverse);
}

}  // namespace pocketllm::ops
