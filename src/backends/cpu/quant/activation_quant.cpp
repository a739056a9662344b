#include "backends/cpu/quant/activation_quant.h"

#include "backends/cpu/quant/activation_quant_kernels.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "backends/cpu/ops/vec_math.h"
#include "backends/cpu/quant/scalar_types.h"

namespace pocketllm {
namespace {

// Quantizes kCount values with a shared scale; returns d. Rounds half away
// from zero (std::round). Vectorized (prefill quantizes every activation row
// before each matrix product): integer steps only, because gcc keeps float
// compares and float max reductions scalar (FP traps, NaN); inlined into the
// row functions, which are built per CPU.
template <int kCount>
inline float quantize_block(const float* x, int8_t* q) {
  // For finite floats the larger |x| has the larger bits.
  uint32_t amax_bits = 0;
  for (int j = 0; j < kCount; ++j) amax_bits = std::max(amax_bits, std::bit_cast<uint32_t>(x[j]) & 0x7FFFFFFFu);
  const float amax = std::bit_cast<float>(amax_bits);
  const float inverse = amax == 0.0f ? 0.0f : 127.0f / amax;
  for (int j = 0; j < kCount; ++j) {
    // |v| <= 127 up to rounding; the clamp absorbs that rounding.
    const float v = x[j] * inverse;
    const auto t = static_cast<int32_t>(v);  // truncated
    const auto frac_bits = std::bit_cast<int32_t>(v - static_cast<float>(t));  // exact
    // |frac| >= 0.5 compared as bits; the step away from zero takes frac's sign.
    const int32_t half = (frac_bits & 0x7FFFFFFF) >= 0x3F000000 ? 1 : 0;
    q[j] = static_cast<int8_t>(std::clamp(t + (frac_bits < 0 ? -half : half), -127, 127));
  }
  return amax / 127.0f;
}

inline BlockQ8x32 quantize_block_q8x32(const float* x) {
  BlockQ8x32 b;
  b.d = quantize_block<kQK32>(x, b.qs);
  int32_t sum = 0;
  for (int8_t q : b.qs) sum += q;
  b.sum = sum;
  return b;
}

using RowQ8x32Fn = void (*)(const float*, BlockQ8x32*, int64_t);
using RowQ8KFn = void (*)(const float*, BlockQ8_K*, int64_t);

}  // namespace

namespace activation_quant_detail {

POCKETLLM_SIMD_CLONES void quantize_row_q8x32_generic(const float* x, BlockQ8x32* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) out[i] = quantize_block_q8x32(x);
}

POCKETLLM_SIMD_CLONES void quantize_row_q8_k_generic(const float* x, BlockQ8_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    BlockQ8_K& b = out[i];
    b.d = quantize_block<kQKK>(x, b.qs);
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
      b.bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace activation_quant_detail

void quantize_row_q8x32(const float* x, BlockQ8x32* out, int64_t n) {
  using namespace activation_quant_detail;
  static const RowQ8x32Fn fn = avx512_quantizers_usable() ? quantize_row_q8x32_avx512 : quantize_row_q8x32_generic;
  fn(x, out, n);
}

void quantize_row_q8_k(const float* x, BlockQ8_K* out, int64_t n) {
  using namespace activation_quant_detail;
  static const RowQ8KFn fn = avx512_quantizers_usable() ? quantize_row_q8_k_avx512 : quantize_row_q8_k_generic;
  fn(x, out, n);
}

void quantize_row_q8x32_panel_lane(const float* x, Q8x32PanelBlock* panel, int lane, int64_t n) {
  // The row quantizer on a stack-sized piece at a time, then each block to its lane.
  constexpr int64_t kPieceBlocks = 64;
  BlockQ8x32 piece[kPieceBlocks];
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const int64_t at = i % kPieceBlocks;
    if (at == 0) quantize_row_q8x32(x + i * kQK32, piece, std::min(kPieceBlocks, n / kQK32 - i) * kQK32);
    const BlockQ8x32& b = piece[at];
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

POCKETLLM_SIMD_CLONES void split_row_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += kBf16SplitLanes, out += 2 * kBf16SplitLanes) {
    for (int64_t j = 0; j < kBf16SplitLanes; ++j) {
      const float v = i0 + j < n ? x[i0 + j] : 0.0f;
      const uint16_t hi = f32_to_bf16(v);
      const bool infinite = (hi & 0x7FFFu) == 0x7F80u;  // x - hi would be NaN
      out[j] = hi;
      out[kBf16SplitLanes + j] = infinite ? uint16_t{0} : f32_to_bf16(v - bf16_to_f32(hi));
    }
  }
}

}  // namespace pocketllm
