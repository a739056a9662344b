#include "backends/cpu/ops/norm.h"

#include <cmath>

#include "backends/cpu/ops/check.h"
#include "backends/cpu/ops/lane_sum.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm::ops {
namespace {

POCKETLLM_SIMD_CLONES float sum_of_squares(const float* x, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) acc[j] += x[i + j] * x[i + j];
  }
  for (size_t j = 0; i + j < n; ++j) acc[j] += x[i + j] * x[i + j];
  return reduce_lanes(acc);
}

POCKETLLM_SIMD_CLONES float sum_of(const float* x, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  }
  for (size_t j = 0; i + j < n; ++j) acc[j] += x[i + j];
  return reduce_lanes(acc);
}

POCKETLLM_SIMD_CLONES float sum_of_squared_deviations(const float* x, size_t n, float mean) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      const float d = x[i + j] - mean;
      acc[j] += d * d;
    }
  }
  for (size_t j = 0; i + j < n; ++j) {
    const float d = x[i + j] - mean;
    acc[j] += d * d;
  }
  return reduce_lanes(acc);
}

// out = (x - shift) * scale * (offset + w) + b, with w / b optional.
POCKETLLM_SIMD_CLONES void normalize(const float* x, size_t n, float shift, float scale,
                                     const float* w, float offset, const float* b, float* out) {
  if (w == nullptr && b == nullptr) {
    for (size_t i = 0; i < n; ++i) out[i] = (x[i] - shift) * scale;
  } else if (b == nullptr) {
    for (size_t i = 0; i < n; ++i) out[i] = (x[i] - shift) * scale * (offset + w[i]);
  } else if (w == nullptr) {
    for (size_t i = 0; i < n; ++i) out[i] = (x[i] - shift) * scale + b[i];
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = (x[i] - shift) * scale * (offset + w[i]) + b[i];
  }
}

const float* data_or_null(std::span<const float> s) { return s.empty() ? nullptr : s.data(); }

double wide(float v) { return static_cast<double>(v); }

}  // namespace

void rms_norm(std::span<const float> x, std::span<const float> weight, float eps, NormWeight mode,
              std::span<float> out) {
  check_size("rms_norm", "out", out.size(), x.size());
  check_optional_size("rms_norm", "weight", weight.size(), x.size());
  if (x.empty()) return;
  const float mean_square = sum_of_squares(x.data(), x.size()) / static_cast<float>(x.size());
  const float scale = 1.0f / std::sqrt(mean_square + eps);
  const float offset = mode == NormWeight::OnePlus ? 1.0f : 0.0f;
  normalize(x.data(), x.size(), 0.0f, scale, data_or_null(weight), offset, nullptr, out.data());
}

void layer_norm(std::span<const float> x, std::span<const float> weight, std::span<const float> bias,
                float eps, std::span<float> out) {
  check_size("layer_norm", "out", out.size(), x.size());
  check_optional_size("layer_norm", "weight", weight.size(), x.size());
  check_optional_size("layer_norm", "bias", bias.size(), x.size());
  if (x.empty()) return;
  const auto n = static_cast<float>(x.size());
  const float mean = sum_of(x.data(), x.size()) / n;
  const float variance = sum_of_squared_deviations(x.data(), x.size(), mean) / n;
  const float scale = 1.0f / std::sqrt(variance + eps);
  normalize(x.data(), x.size(), mean, scale, data_or_null(weight), 0.0f, data_or_null(bias),
            out.data());
}

void rms_norm_reference(std::span<const float> x, std::span<const float> weight, float eps,
                        NormWeight mode, std::span<float> out) {
  check_size("rms_norm_reference", "out", out.size(), x.size());
  check_optional_size("rms_norm_reference", "weight", weight.size(), x.size());
  if (x.empty()) return;
  double sum = 0.0;
  for (const float v : x) sum += wide(v) * wide(v);
  const double scale = 1.0 / std::sqrt(sum / static_cast<double>(x.size()) + wide(eps));
  for (size_t i = 0; i < x.size(); ++i) {
    double w = weight.empty() ? 1.0 : wide(weight[i]);
    if (mode == NormWeight::OnePlus && !weight.empty()) w += 1.0;
    out[i] = static_cast<float>(wide(x[i]) * scale * w);
  }
}

void layer_norm_reference(std::span<const float> x, std::span<const float> weight,
                          std::span<const float> bias, float eps, std::span<float> out) {
  check_size("layer_norm_reference", "out", out.size(), x.size());
  check_optional_size("layer_norm_reference", "weight", weight.size(), x.size());
  check_optional_size("layer_norm_reference", "bias", bias.size(), x.size());
  if (x.empty()) return;
  const auto n = static_cast<double>(x.size());
  double sum = 0.0;
  for (const float v : x) sum += wide(v);
  const double mean = sum / n;
  double squares = 0.0;
  for (const float v : x) squares += (wide(v) - mean) * (wide(v) - mean);
  const double scale = 1.0 / std::sqrt(squares / n + wide(eps));
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = weight.empty() ? 1.0 : wide(weight[i]);
    const double b = bias.empty() ? 0.0 : wide(bias[i]);
    out[i] = static_cast<float>((wide(x[i]) - mean) * scale * w + b);
  }
}

}  // namespace pocketllm::ops
