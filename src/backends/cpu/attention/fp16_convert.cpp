#include "backends/cpu/attention/fp16_convert.h"

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/quant/scalar_types.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace pocketllm {
namespace {

void f16_to_f32_scalar(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(src[i]);
}

void f32_to_f16_scalar(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_fp16(src[i]);
}

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  f16_to_f32_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx,f16c"))) void f32_to_f16_f16c(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  f32_to_f16_scalar(src + i, dst + i, n - i);
}

bool has_f16c() {
  static const bool has = simd_features_from_cpuid().f16c;  // f16c implies usable AVX
  return has;
}
#endif

}  // namespace

void f16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
#if defined(__x86_64__)
  if (has_f16c()) return f16_to_f32_f16c(src, dst, n);
#elif defined(__aarch64__)
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
  }
  return f16_to_f32_scalar(src + i, dst + i, n - i);
#endif
  f16_to_f32_scalar(src, dst, n);
}

void f32_to_f16_row(const float* src, uint16_t* dst, size_t n) {
#if defined(__x86_64__)
  if (has_f16c()) return f32_to_f16_f16c(src, dst, n);
#elif defined(__aarch64__)
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
  }
  return f32_to_f16_scalar(src + i, dst + i, n - i);
#endif
  f32_to_f16_scalar(src, dst, n);
}

}  // namespace pocketllm
