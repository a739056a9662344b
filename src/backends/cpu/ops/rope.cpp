#include "backends/cpu/ops/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "backends/cpu/ops/check.h"
#include "backends/cpu/ops/vec_math.h"
#include "util/error.h"

namespace pocketllm::ops {
namespace {

// The steps below follow transformers' modeling_rope_utils in float32, in
// the same order, so that the frequencies agree to the last bit or two.

// theta^(2i / n_dims): the wavelength divided by 2 pi.
float pos_freq(double theta, size_t i, size_t n_dims) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(n_dims);
  return std::pow(static_cast<float>(theta), exponent);
}

std::vector<float> base_inv_freq(double theta, uint32_t n_dims) {
  std::vector<float> inv(n_dims / 2);
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = 1.0f / pos_freq(theta, i, n_dims);
  return inv;
}

void scale_llama3(std::vector<float>& inv, const RopeDesc& rope) {
  const auto factor = static_cast<float>(rope.factor);
  const auto low = static_cast<float>(rope.low_freq_factor);
  const auto high = static_cast<float>(rope.high_freq_factor);
  const auto old_context = static_cast<float>(rope.original_context);
  const float low_freq_wavelen = old_context / low;
  const float high_freq_wavelen = old_context / high;
  for (float& f : inv) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    const float scaled = wavelen > low_freq_wavelen ? f / factor : f;
    if (wavelen < high_freq_wavelen || wavelen > low_freq_wavelen) {
      f = scaled;
    } else {  // medium frequencies: interpolate between kept and divided
      const float smooth = (old_context / wavelen - low) / (high - low);
      f = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
  }
}

double yarn_correction_dim(double n_rotations, uint32_t n_dims, double theta, uint32_t context) {
  return (n_dims * std::log(context / (n_rotations * 2.0 * std::numbers::pi))) /
         (2.0 * std::log(theta));
}

void scale_yarn(std::vector<float>& inv, const RopeDesc& rope) {
  const auto n_dims = static_cast<uint32_t>(2 * inv.size());
  double low = yarn_correction_dim(rope.beta_fast, n_dims, rope.theta, rope.original_context);
  double high = yarn_correction_dim(rope.beta_slow, n_dims, rope.theta, rope.original_context);
  if (rope.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(n_dims - 1));
  if (low == high) high += 0.001;  // as transformers: avoids a zero-width ramp
  const auto factor = static_cast<float>(rope.factor);
  const auto low_f = static_cast<float>(low);
  const auto width = static_cast<float>(high - low);
  for (size_t i = 0; i < inv.size(); ++i) {
    const float extrapolation = inv[i];  // 1 / pos_freq
    const float interpolation = 1.0f / (factor * pos_freq(rope.theta, i, n_dims));
    const float ramp = std::clamp((static_cast<float>(i) - low_f) / width, 0.0f, 1.0f);
    const float keep = 1.0f - ramp;  // share of the unscaled frequency
    inv[i] = interpolation * (1.0f - keep) + extrapolation * keep;
  }
}

float yarn_attention_factor(const RopeDesc& rope) {
  if (rope.mscale != 0.0 && rope.mscale_all_dim != 0.0) {
    return static_cast<float>(yarn_get_mscale(rope.factor, rope.mscale) /
                              yarn_get_mscale(rope.factor, rope.mscale_all_dim));
  }
  return static_cast<float>(yarn_get_mscale(rope.factor));
}

void require(bool ok, const std::string& message) {
  if (!ok) throw InputError("RoPE: " + message);
}

}  // namespace

double yarn_get_mscale(double factor, double mscale) {
  if (factor <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(factor) + 1.0;
}

RopeFrequencies rope_frequencies(const RopeDesc& rope, bool sliding_layer) {
  require(rope.n_dims > 0 && rope.n_dims % 2 == 0,
          "rotated dims must be even and positive, got " + std::to_string(rope.n_dims));
  const bool own_base = sliding_layer && rope.theta_sliding > 0.0;
  const double theta = own_base ? rope.theta_sliding : rope.theta;
  require(theta > 1.0, "theta must be greater than 1, got " + std::to_string(theta));
  RopeFrequencies result;
  result.inv_freq = base_inv_freq(theta, rope.n_dims);
  if (own_base) return result;
  switch (rope.scaling) {
    case RopeScalingType::None:
      break;
    case RopeScalingType::Linear:
      require(rope.factor > 0.0, "linear scaling factor must be positive");
      for (float& f : result.inv_freq) f /= static_cast<float>(rope.factor);
      break;
    case RopeScalingType::Llama3:
      require(rope.factor > 0.0 && rope.original_context > 0 &&
                  rope.high_freq_factor > rope.low_freq_factor && rope.low_freq_factor > 0.0,
              "llama3 scaling needs factor > 0, original context > 0 and "
              "high_freq_factor > low_freq_factor > 0");
      scale_llama3(result.inv_freq, rope);
      break;
    case RopeScalingType::Yarn:
      require(rope.factor > 0.0 && rope.original_context > 0 && rope.beta_fast > 0.0 &&
                  rope.beta_slow > 0.0,
              "YaRN scaling needs factor > 0, original context > 0 and positive betas");
      scale_yarn(result.inv_freq, rope);
      result.attention_factor = yarn_attention_factor(rope);
      break;
  }
  return result;
}

void apply_rope_freq_factors(std::span<float> inv_freq, std::span<const float> factors) {
  if (factors.size() != inv_freq.size()) {
    throw InputError("RoPE: rope_freqs has " + std::to_string(factors.size()) +
                     " factors, expected " + std::to_string(inv_freq.size()));
  }
  for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] /= factors[i];
}

void rope_cos_sin(int64_t position, std::span<const float> inv_freq, float attention_factor,
                  std::span<float> cos, std::span<float> sin) {
  check_size("rope_cos_sin", "cos", cos.size(), inv_freq.size());
  check_size("rope_cos_sin", "sin", sin.size(), inv_freq.size());
  const auto pos = static_cast<float>(position);
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double angle = static_cast<double>(pos * inv_freq[i]);  // float product, as torch
    cos[i] = static_cast<float>(std::cos(angle)) * attention_factor;
    sin[i] = static_cast<float>(std::sin(angle)) * attention_factor;
  }
}

namespace {

POCKETLLM_SIMD_CLONES void rotate_half_split(float* head, size_t half, const float* cos,
                                             const float* sin) {
  float* a = head;
  float* b = head + half;
  for (size_t i = 0; i < half; ++i) {
    const float x0 = a[i];
    const float x1 = b[i];
    a[i] = x0 * cos[i] - x1 * sin[i];
    b[i] = x1 * cos[i] + x0 * sin[i];
  }
}

POCKETLLM_SIMD_CLONES void rotate_interleaved(float* head, size_t half, const float* cos,
                                              const float* sin) {
  for (size_t i = 0; i < half; ++i) {
    const float x0 = head[2 * i];
    const float x1 = head[2 * i + 1];
    head[2 * i] = x0 * cos[i] - x1 * sin[i];
    head[2 * i + 1] = x1 * cos[i] + x0 * sin[i];
  }
}

void check_rope_shapes(const char* op, std::span<float> x, size_t n_heads, size_t head_dim,
                       std::span<const float> cos, std::span<const float> sin) {
  check_size(op, "x", x.size(), n_heads * head_dim);
  check_size(op, "sin", sin.size(), cos.size());
  if (2 * cos.size() > head_dim) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(2 * cos.size()) +
                                " rotated dims exceed head_dim " + std::to_string(head_dim));
  }
}

}  // namespace

void rope_apply(std::span<float> x, size_t n_heads, size_t head_dim, RopeLayout layout,
                std::span<const float> cos, std::span<const float> sin) {
  check_rope_shapes("rope_apply", x, n_heads, head_dim, cos, sin);
  const size_t half = cos.size();
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = x.data() + h * head_dim;
    if (layout == RopeLayout::HalfSplit) {
      rotate_half_split(head, half, cos.data(), sin.data());
    } else {
      rotate_interleaved(head, half, cos.data(), sin.data());
    }
  }
}

void rope_apply_reference(std::span<float> x, size_t n_heads, size_t head_dim, RopeLayout layout,
                          std::span<const float> cos, std::span<const float> sin) {
  check_rope_shapes("rope_apply_reference", x, n_heads, head_dim, cos, sin);
  const size_t half = cos.size();
  for (size_t h = 0; h < n_heads; ++h) {
    for (size_t i = 0; i < half; ++i) {
      const size_t i0 = h * head_dim + (layout == RopeLayout::HalfSplit ? i : 2 * i);
      const size_t i1 = layout == RopeLayout::HalfSplit ? i0 + half : i0 + 1;
      const auto x0 = static_cast<double>(x[i0]);
      const auto x1 = static_cast<double>(x[i1]);
      const auto c = static_cast<double>(cos[i]);
      const auto s = static_cast<double>(sin[i]);
      x[i0] = static_cast<float>(x0 * c - x1 * s);
      x[i1] = static_cast<float>(x1 * c + x0 * s);
    }
  }
}

}  // namespace pocketllm::ops
