#include "backends/cpu/quant/activation_quant.h"

#include <algorithm>
#include <cmath>

namespace pocketllm {
namespace {

// Quantizes `count` values with a shared scale; returns d.
float quantize_block(const float* x, int8_t* q, int count) {
  float amax = 0.0f;
  for (int j = 0; j < count; ++j) amax = std::max(amax, std::fabs(x[j]));
  if (amax == 0.0f) {
    std::fill(q, q + count, int8_t{0});
    return 0.0f;
  }
  const float inverse = 127.0f / amax;
  for (int j = 0; j < count; ++j) {
    // |x * inverse| <= 127 up to rounding; the clamp absorbs that rounding.
    const float r = std::clamp(std::round(x[j] * inverse), -127.0f, 127.0f);
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
