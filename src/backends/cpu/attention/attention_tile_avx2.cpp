#include "backends/cpu/attention/attention_tile_avx2.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/attention/attention_tile_dispatch.h"
#include "backends/cpu/cpu_info.h"

#define POCKETLLM_AVX2_FN __attribute__((target("avx2,fma,f16c")))

namespace pocketllm::attention_avx2 {
namespace {

template <Rows R>
POCKETLLM_AVX2_FN inline __m256 load8(const void* base, size_t i) {
  if constexpr (R == Rows::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i)));
  } else if constexpr (R == Rows::BF16) {
    // bf16 is the upper half of an f32: widen and shift into place.
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  }
}

POCKETLLM_AVX2_FN inline float hsum(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// FMA latency is 4 cycles and two issue per cycle: a loop needs 8
// independent accumulators to keep them busy, so the tiles below give each of
// H heads (<= 4) KEYS keys or C chunks of 8 dims so that H * KEYS = 8.
constexpr size_t chains_per_head(size_t heads) { return heads >= 3 ? 2 : 8 / heads; }

// scores for keys j .. j + KEYS - 1 of H heads: each K chunk is loaded (and
// converted) once for all heads.
template <size_t H, size_t KEYS, Rows R>
POCKETLLM_AVX2_FN inline void scores_tile(const float* q, const void* k, size_t j, size_t dk, float scale,
                                          float* scores, size_t scores_stride) {
  __m256 acc[KEYS][H];
  for (size_t t = 0; t < KEYS; ++t) {
    for (size_t r = 0; r < H; ++r) acc[t][r] = _mm256_setzero_ps();
  }
  for (size_t c = 0; c < dk; c += 8) {
    for (size_t t = 0; t < KEYS; ++t) {
      const __m256 kc = load8<R>(k, (j + t) * dk + c);
      for (size_t r = 0; r < H; ++r) acc[t][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q + r * dk + c), kc, acc[t][r]);
    }
  }
  for (size_t t = 0; t < KEYS; ++t) {
    if constexpr (H == 4) {
      // Four horizontal sums at once: [s0 s1 s2 s3] in one register.
      const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[t][0], acc[t][1]), _mm256_hadd_ps(acc[t][2], acc[t][3]));
      const __m128 sums = _mm_mul_ps(_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)),
                                     _mm_set1_ps(scale));
      alignas(16) float lanes[4];
      _mm_store_ps(lanes, sums);
      for (size_t r = 0; r < H; ++r) scores[r * scores_stride + j + t] = lanes[r];
    } else {
      for (size_t r = 0; r < H; ++r) scores[r * scores_stride + j + t] = hsum(acc[t][r]) * scale;
    }
  }
}

template <size_t H, Rows R>
POCKETLLM_AVX2_FN void scores_heads(const float* q, const void* k, size_t n, size_t dk, float scale,
                                    float* scores, size_t scores_stride) {
  constexpr size_t kKeys = chains_per_head(H);
  size_t j = 0;
  for (; j + kKeys <= n; j += kKeys) scores_tile<H, kKeys, R>(q, k, j, dk, scale, scores, scores_stride);
  for (; j < n; ++j) scores_tile<H, 1, R>(q, k, j, dk, scale, scores, scores_stride);
}

// Dims c .. c + 8C - 1 of the H heads' accumulators over all n keys.
template <size_t H, size_t C, Rows R>
POCKETLLM_AVX2_FN inline void accumulate_tile(float* acc, const float* alpha, const float* p, size_t p_stride,
                                              const void* v, size_t n, size_t dv, size_t c) {
  __m256 a[C][H];
  for (size_t cc = 0; cc < C; ++cc) {
    for (size_t r = 0; r < H; ++r) {
      a[cc][r] = _mm256_mul_ps(_mm256_loadu_ps(acc + r * dv + c + 8 * cc), _mm256_set1_ps(alpha[r]));
    }
  }
  for (size_t j = 0; j < n; ++j) {
    __m256 pj[H];
    for (size_t r = 0; r < H; ++r) pj[r] = _mm256_set1_ps(p[r * p_stride + j]);
    for (size_t cc = 0; cc < C; ++cc) {
      const __m256 vc = load8<R>(v, j * dv + c + 8 * cc);
      for (size_t r = 0; r < H; ++r) a[cc][r] = _mm256_fmadd_ps(pj[r], vc, a[cc][r]);
    }
  }
  for (size_t cc = 0; cc < C; ++cc) {
    for (size_t r = 0; r < H; ++r) _mm256_storeu_ps(acc + r * dv + c + 8 * cc, a[cc][r]);
  }
}

template <size_t H, Rows R>
POCKETLLM_AVX2_FN void accumulate_heads(float* acc, const float* alpha, const float* p, size_t p_stride,
                                        const void* v, size_t n, size_t dv) {
  constexpr size_t kChunks = chains_per_head(H);
  size_t c = 0;
  for (; c + 8 * kChunks <= dv; c += 8 * kChunks) accumulate_tile<H, kChunks, R>(acc, alpha, p, p_stride, v, n, dv, c);
  for (; c < dv; c += 8) accumulate_tile<H, 1, R>(acc, alpha, p, p_stride, v, n, dv, c);
}

// The tiles for attention_tile_dispatch.h.
struct Tiles {
  template <size_t H, Rows R>
  POCKETLLM_AVX2_FN static void scores(const float* q, const void* k, size_t n, size_t dk, float scale, float* out,
                     size_t stride) {
    scores_heads<H, R>(q, k, n, dk, scale, out, stride);
  }
  template <size_t H, Rows R>
  POCKETLLM_AVX2_FN static void accumulate(float* acc, const float* alpha, const float* p, size_t p_stride, const void* v,
                         size_t n, size_t dv) {
    accumulate_heads<H, R>(acc, alpha, p, p_stride, v, n, dv);
  }
};

}  // namespace

bool usable() {
  static const bool ok = [] {
    const SimdFeatures simd = simd_features_from_cpuid();
    return simd.avx2 && simd.fma && simd.f16c;
  }();
  return ok;
}

void scores(const float* q, uint32_t n_heads, const void* k, Rows k_rows, size_t n, size_t dk, float scale,
            float* out, size_t scores_stride) {
  attention_tiles::scores<Tiles>(q, n_heads, k, k_rows, n, dk, scale, out, scores_stride);
}

void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                const void* v, Rows v_rows, size_t n, size_t dv) {
  attention_tiles::accumulate<Tiles>(acc, n_heads, alpha, p, p_stride, v, v_rows, n, dv);
}

}  // namespace pocketllm::attention_avx2

#else

namespace pocketllm::attention_avx2 {
bool usable() { return false; }
void scores(const float*, uint32_t, const void*, Rows, size_t, size_t, float, float*, size_t) {}
void accumulate(float*, uint32_t, const float*, const float*, size_t, const void*, Rows, size_t, size_t) {}
}  // namespace pocketllm::attention_avx2

#endif
