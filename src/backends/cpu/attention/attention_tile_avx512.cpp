#include "backends/cpu/attention/attention_tile_avx512.h"

#include "backends/cpu/attention/attention_tile_dispatch.h"
#include "backends/cpu/cpu_info.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/avx512_target_begin.inc"

namespace pocketllm::attention_avx512 {
namespace {

template <Rows R>
inline __m512 load16(const void* base, size_t i) {
  const auto* p = reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i);
  if constexpr (R == Rows::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(p));
  } else if constexpr (R == Rows::BF16) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p)), 16));
  } else {
    return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  }
}

inline __m256 fold(__m512 x) {
  const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));  // AVX-512F, no DQ
  return _mm256_add_ps(_mm512_castps512_ps256(x), high);
}

// Up to 4 heads x KEYS keys, H * KEYS = 8 independent FMA chains (latency 4,
// two per cycle), each K chunk loaded (and converted) once for all heads.
constexpr size_t keys_per_tile(size_t heads) { return heads >= 3 ? 2 : 8 / heads; }

template <size_t H, size_t KEYS, Rows R>
inline void scores_tile(const float* q, const void* k, size_t j, size_t dk, float scale, float* scores,
                        size_t scores_stride) {
  __m512 acc[KEYS][H];
  for (size_t t = 0; t < KEYS; ++t) {
    for (size_t r = 0; r < H; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  for (size_t c = 0; c < dk; c += 16) {
    for (size_t t = 0; t < KEYS; ++t) {
      const __m512 kc = load16<R>(k, (j + t) * dk + c);
      for (size_t r = 0; r < H; ++r) acc[t][r] = _mm512_fmadd_ps(_mm512_loadu_ps(q + r * dk + c), kc, acc[t][r]);
    }
  }
  for (size_t t = 0; t < KEYS; ++t) {
    if constexpr (H == 4) {
      // 16 lanes -> 8, then four horizontal sums at once: [s0 s1 s2 s3].
      const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(fold(acc[t][0]), fold(acc[t][1])),
                                      _mm256_hadd_ps(fold(acc[t][2]), fold(acc[t][3])));
      const __m128 sums = _mm_mul_ps(_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)),
                                     _mm_set1_ps(scale));
      alignas(16) float lanes[4];
      _mm_store_ps(lanes, sums);
      for (size_t r = 0; r < H; ++r) scores[r * scores_stride + j + t] = lanes[r];
    } else {
      for (size_t r = 0; r < H; ++r) scores[r * scores_stride + j + t] = _mm512_reduce_add_ps(acc[t][r]) * scale;
    }
  }
}

template <size_t H, Rows R>
void scores_heads(const float* q, const void* k, size_t n, size_t dk, float scale, float* scores,
                  size_t scores_stride) {
  constexpr size_t kKeys = keys_per_tile(H);
  size_t j = 0;
  for (; j + kKeys <= n; j += kKeys) scores_tile<H, kKeys, R>(q, k, j, dk, scale, scores, scores_stride);
  for (; j < n; ++j) scores_tile<H, 1, R>(q, k, j, dk, scale, scores, scores_stride);
}

// Dims c .. c + 16C - 1 of the H heads' accumulators over all n keys: per
// key, C chunks of V (loaded once) meet H broadcast weights.
template <size_t H, size_t C, Rows R>
inline void accumulate_tile(float* acc, const float* alpha, const float* p, size_t p_stride, const void* v,
                            size_t n, size_t dv, size_t c) {
  __m512 a[C][H];
  for (size_t cc = 0; cc < C; ++cc) {
    for (size_t r = 0; r < H; ++r) {
      a[cc][r] = _mm512_mul_ps(_mm512_loadu_ps(acc + r * dv + c + 16 * cc), _mm512_set1_ps(alpha[r]));
    }
  }
  for (size_t j = 0; j < n; ++j) {
    __m512 pj[H];
    for (size_t r = 0; r < H; ++r) pj[r] = _mm512_set1_ps(p[r * p_stride + j]);
    for (size_t cc = 0; cc < C; ++cc) {
      const __m512 vc = load16<R>(v, j * dv + c + 16 * cc);
      for (size_t r = 0; r < H; ++r) a[cc][r] = _mm512_fmadd_ps(pj[r], vc, a[cc][r]);
    }
  }
  for (size_t cc = 0; cc < C; ++cc) {
    for (size_t r = 0; r < H; ++r) _mm512_storeu_ps(acc + r * dv + c + 16 * cc, a[cc][r]);
  }
}

// Chunks per pass: 16 accumulators for 4 heads (64 dims), 8 chains at least.
constexpr size_t chunks_per_pass(size_t heads) { return heads >= 3 ? 4 : 8 / heads; }

template <size_t H, Rows R>
void accumulate_heads(float* acc, const float* alpha, const float* p, size_t p_stride, const void* v, size_t n,
                      size_t dv) {
  constexpr size_t kChunks = chunks_per_pass(H);
  size_t c = 0;
  for (; c + 16 * kChunks <= dv; c += 16 * kChunks) accumulate_tile<H, kChunks, R>(acc, alpha, p, p_stride, v, n, dv, c);
  for (; c < dv; c += 16) accumulate_tile<H, 1, R>(acc, alpha, p, p_stride, v, n, dv, c);
}

// The tiles for attention_tile_dispatch.h.
struct Tiles {
  template <size_t H, Rows R>
  static void scores(const float* q, const void* k, size_t n, size_t dk, float scale, float* out,
                     size_t stride) {
    scores_heads<H, R>(q, k, n, dk, scale, out, stride);
  }
  template <size_t H, Rows R>
  static void accumulate(float* acc, const float* alpha, const float* p, size_t p_stride, const void* v,
                         size_t n, size_t dv) {
    accumulate_heads<H, R>(acc, alpha, p, p_stride, v, n, dv);
  }
};

}  // namespace

void scores(const float* q, uint32_t n_heads, const void* k, Rows k_rows, size_t n, size_t dk, float scale,
            float* out, size_t scores_stride) {
  attention_tiles::scores<Tiles>(q, n_heads, k, k_rows, n, dk, scale, out, scores_stride);
}

void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                const void* v, Rows v_rows, size_t n, size_t dv) {
  attention_tiles::accumulate<Tiles>(acc, n_heads, alpha, p, p_stride, v, v_rows, n, dv);
}

}  // namespace pocketllm::attention_avx512

#include "backends/cpu/avx512_target_end.inc"

namespace pocketllm::attention_avx512 {
bool usable() {
  static const bool ok = [] {
    const SimdFeatures simd = simd_features_from_cpuid();
    // Every CPU with F, BW and VL has DQ too, which the target region allows.
    return simd.avx512f && simd.avx512bw && simd.avx512vl && simd.f16c && simd.avx2 && simd.fma;
  }();
  return ok;
}
}  // namespace pocketllm::attention_avx512

#else

namespace pocketllm::attention_avx512 {
bool usable() { return false; }
void scores(const float*, uint32_t, const void*, Rows, size_t, size_t, float, float*, size_t) {}
void accumulate(float*, uint32_t, const float*, const float*, size_t, const void*, Rows, size_t, size_t) {}
}  // namespace pocketllm::attention_avx512

#endif
