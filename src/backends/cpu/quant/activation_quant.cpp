#include "backends/cpu/quant/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/ops/vec_math.h"

namespace pocketllm {
namespace {

// std::round (half away from zero) in a form the compiler vectorizes:
// glibc's roundf is a library call, trunc is one instruction, and v - trunc(v)
// is exact for |v| < 2^23.
inline float round_half_away(float v) {
  const float t = std::trunc(v);
  const float frac = v - t;
  return t + (frac >= 0.5f ? 1.0f : 0.0f) - (frac <= -0.5f ? 1.0f : 0.0f);
}

// Quantizes `count` values with a shared scale; returns d. Vectorized per
// CPU (prefill quantizes every activation row before each matrix product).
POCKETLLM_SIMD_CLONES float quantize_block(const float* x, int8_t* q, int count) {
  float amax = 0.0f;
  for (int j = 0; j < count; ++j) amax = std::max(amax, std::fabs(x[j]));
  if (amax == 0.0f) {
    std::fill(q, q + count, int8_t{0});
    return 0.0f;
  }
  const float inverse = 127.0f / amax;
  for (int j = 0; j < count; ++j) {
    // |x * inverse| <= 127 up to rounding; the clamp absorbs that rounding.
    const float r = std::clamp(round_half_away(x[j] * inverse), -127.0f, 127.0f);
    q[j] = static_cast<int8_t>(r);
  }
  return amax / 127.0f;
}

}  // namespace

void quantize_row_q8x32(const float* x, BlockQ8x32* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    BlockQ8x32& b = out[i];
    b.d = quantize_block(x, b.qs, kQK32);
    int32_t sum = 0;
    for (int8_t q : b.qs) sum += q;
    b.sum = sum;
  }
}

void quantize_row_q8x32_panel_lane(const float* x, Q8x32PanelBlock* panel, int lane, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    BlockQ8x32 b;
    quantize_row_q8x32(x, &b, kQK32);
    Q8x32PanelBlock& p = panel[i];
    for (int g = 0; g < 8; ++g) std::memcpy(p.qs[g][lane], b.qs + 4 * g, 4);
    p.d[lane] = b.d;
    p.neg128_sum[lane] = -128 * b.sum;
    p.d_sum[lane] = b.d * static_cast<float>(b.sum);
  }
}

void clear_q8x32_panel_lane(Q8x32PanelBlock* panel, int lane, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i) {
    Q8x32PanelBlock& p = panel[i];
    for (int g = 0; g < 8; ++g) std::memset(p.qs[g][lane], 0, 4);
    p.d[lane] = 0.0f;
    p.neg128_sum[lane] = 0;
    p.d_sum[lane] = 0.0f;
  }
}

void quantize_row_q8_k(const float* x, BlockQ8_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    BlockQ8_K& b = out[i];
    b.d = quantize_block(x, b.qs, kQKK);
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
      b.bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace pocketllm
