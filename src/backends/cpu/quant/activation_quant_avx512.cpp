// AVX-512 forms of the activation quantizers (activation_quant_kernels.h):
// the same steps as the generic quantize_block, 16 lanes at a time, so the
// same bits: amax as the largest |x| bit pattern, v = x * (127 / amax),
// truncate, and one step away from zero where the exact remainder is at
// least one half, clamped to +-127.
#include "backends/cpu/quant/activation_quant_kernels.h"

#include "backends/cpu/cpu_info.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <bit>

#define POCKETLLM_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq"
#include "backends/cpu/target_begin.inc"

namespace pocketllm::activation_quant_detail {
namespace {

// (A function, not a global: a global vector would be built at load time, on any CPU.)
inline __m512i abs_mask() { return _mm512_set1_epi32(0x7FFFFFFF); }

inline __m512i abs_bits(const float* x) { return _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x)), abs_mask()); }

// 127 / amax for amax = the float of the largest |x| bits; 0 for a zero block.
inline float inverse_scale(uint32_t amax_bits) {
  const float amax = std::bit_cast<float>(amax_bits);
  return amax == 0.0f ? 0.0f : 127.0f / amax;
}

// 16 quants of x * inverse, rounded half away from zero, in [-127, 127].
inline __m512i quantize16(const float* x, __m512 inverse) {
  const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), inverse);
  const __m512i t = _mm512_cvttps_epi32(v);
  const __m512i frac = _mm512_castps_si512(_mm512_sub_ps(v, _mm512_cvtepi32_ps(t)));  // exact
  const __mmask16 half = _mm512_cmpge_epi32_mask(_mm512_and_si512(frac, abs_mask()), _mm512_set1_epi32(0x3F000000));
  const __mmask16 negative = _mm512_movepi32_mask(frac);
  const __m512i one = _mm512_set1_epi32(1);
  __m512i q = _mm512_mask_add_epi32(t, half & static_cast<__mmask16>(~negative), t, one);
  q = _mm512_mask_sub_epi32(q, half & negative, q, one);
  return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
}

}  // namespace

void quantize_row_q8x32_avx512(const float* x, BlockQ8x32* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    const uint32_t amax_bits = _mm512_reduce_max_epu32(_mm512_max_epu32(abs_bits(x), abs_bits(x + 16)));
    const __m512 inverse = _mm512_set1_ps(inverse_scale(amax_bits));
    const __m512i q0 = quantize16(x, inverse);
    const __m512i q1 = quantize16(x + 16, inverse);
    BlockQ8x32& b = out[i];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 16), _mm512_cvtepi32_epi8(q1));
    b.sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    b.d = std::bit_cast<float>(amax_bits) / 127.0f;
  }
}

void quantize_row_q8_k_avx512(const float* x, BlockQ8_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    __m512i m = abs_bits(x);
    for (int g = 1; g < 16; ++g) m = _mm512_max_epu32(m, abs_bits(x + 16 * g));
    const uint32_t amax_bits = _mm512_reduce_max_epu32(m);
    const __m512 inverse = _mm512_set1_ps(inverse_scale(amax_bits));
    BlockQ8_K& b = out[i];
    for (int g = 0; g < 16; ++g) {
      const __m512i q = quantize16(x + 16 * g, inverse);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 16 * g), _mm512_cvtepi32_epi8(q));
      b.bsums[g] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    b.d = std::bit_cast<float>(amax_bits) / 127.0f;
  }
}

}  // namespace pocketllm::activation_quant_detail

#include "backends/cpu/target_end.inc"

namespace pocketllm::activation_quant_detail {
bool avx512_quantizers_usable() {
  const SimdFeatures simd = simd_features_from_cpuid();
  return simd.avx512f && simd.avx512bw && simd.avx512vl;
}
}  // namespace pocketllm::activation_quant_detail

#else
namespace pocketllm::activation_quant_detail {
bool avx512_quantizers_usable() { return false; }
void quantize_row_q8x32_avx512(const float*, BlockQ8x32*, int64_t) {}
void quantize_row_q8_k_avx512(const float*, BlockQ8_K*, int64_t) {}
}  // namespace pocketllm::activation_quant_detail
#endif
