#include "backends/cpu/attention/attention_quant_vnni.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/ops/vec_math.h"
#include "kv/kv_quant_formats.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/avx512_target_begin.inc"

namespace pocketllm::attention_vnni {
namespace {

constexpr uint32_t kTileKeys = 16;  // one key per 32-bit lane of a 512-bit register

// The keys j0 .. j1 of a block that fall in 16-key tile t: lanes l0 ..
// l0 + count - 1, written to / read from index `out` (= key - j0) onward.
struct Tile {
  uint32_t t;
  uint32_t l0;
  uint32_t count;
  size_t out;
  __mmask16 mask() const { return static_cast<__mmask16>(((1u << count) - 1u) << l0); }
  bool full() const { return count == kTileKeys; }
};

template <class F>
void for_each_tile(uint32_t j0, size_t n, F&& f) {
  const uint32_t j1 = j0 + static_cast<uint32_t>(n) - 1;
  for (uint32_t t = j0 / kTileKeys; t <= j1 / kTileKeys; ++t) {
    const uint32_t first = std::max(j0, t * kTileKeys);
    const uint32_t last = std::min(j1, t * kTileKeys + kTileKeys - 1);
    f(Tile{t, first - t * kTileKeys, last - first + 1, size_t{first - j0}});
  }
}

inline int32_t load_i32(const void* p) {
  int32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}

inline void store_lanes(float* dst, __m512 v, const Tile& tile) {
  if (tile.full()) return _mm512_storeu_ps(dst, v);
  alignas(64) float lanes[kTileKeys];
  _mm512_store_ps(lanes, v);
  std::memcpy(dst, lanes + tile.l0, tile.count * sizeof(float));
}

// The tile's weights p[0 .. count) in lanes l0 .., zeros elsewhere.
inline __m512 load_lanes(const float* src, const Tile& tile) {
  if (tile.full()) return _mm512_loadu_ps(src);
  alignas(64) float lanes[kTileKeys] = {};
  std::memcpy(lanes + tile.l0, src, tile.count * sizeof(float));
  return _mm512_load_ps(lanes);
}

inline __m512 load_f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// ---- scores -------------------------------------------------------------------------------

// H heads' integer dot products with the 16 keys of tile t of a Q8Key slab
// (values read as unsigned: q + 128).
template <size_t H>
inline void dot_q8_tile(const int8_t* q, size_t q_stride, const uint8_t* values, uint32_t bt, uint32_t t, size_t dk4,
                        __m512i* acc) {
  for (size_t r = 0; r < H; ++r) acc[r] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const uint8_t* keys = values + size_t{t} * 64;
  for (size_t c = 0; c < dk4; c += 4) {
    const __m512i k = _mm512_xor_si512(_mm512_loadu_si512(keys + c * bt), flip);
    for (size_t r = 0; r < H; ++r) {
      acc[r] = _mm512_dpbusd_epi32(acc[r], k, _mm512_set1_epi32(load_i32(q + r * q_stride + c)));
    }
  }
}

// The same for a Q4Channel slab: 8 channels per 64 bytes, low nibbles the
// first four.
template <size_t H>
inline void dot_q4_tile(const int8_t* q, size_t q_stride, const uint8_t* values, uint32_t bt, uint32_t t, size_t dk8,
                        __m512i* acc) {
  for (size_t r = 0; r < H; ++r) acc[r] = _mm512_setzero_si512();
  const __m512i low = _mm512_set1_epi8(0x0F);
  const uint8_t* keys = values + size_t{t} * 64;
  for (size_t c = 0; c < dk8; c += 8) {
    const __m512i x = _mm512_loadu_si512(keys + c / 2 * bt);
    const __m512i lo = _mm512_and_si512(x, low);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low);
    for (size_t r = 0; r < H; ++r) {
      acc[r] = _mm512_dpbusd_epi32(acc[r], lo, _mm512_set1_epi32(load_i32(q + r * q_stride + c)));
      acc[r] = _mm512_dpbusd_epi32(acc[r], hi, _mm512_set1_epi32(load_i32(q + r * q_stride + c + 4)));
    }
  }
}

// What turns head r's integer dot into its scores:
//   score = float(dot - bias[r]) * mul[r] * key_scale_j * scale + add[r]
// (Q8Key: bias 128 * sum(q), mul the query's scale, key_scale the row's;
// Q4Channel: no bias, mul carries the scale, add the q . min term).
struct ScoreParams {
  const int8_t* q;
  size_t q_stride;
  const int32_t* bias;  // nullptr: none
  const float* mul;
  const float* add;     // nullptr: none
  const uint16_t* key_scales;  // nullptr: none (Q4Channel)
  float scale;
  bool q4;
};

template <size_t H>
void scores_heads(const ScoreParams& sp, const uint8_t* values, uint32_t bt, size_t dk, uint32_t t, __m512* out) {
  __m512i acc[H];
  if (sp.q4) {
    dot_q4_tile<H>(sp.q, sp.q_stride, values, bt, t, kv_round_up(dk, 8), acc);
  } else {
    dot_q8_tile<H>(sp.q, sp.q_stride, values, bt, t, kv_round_up(dk, 4), acc);
  }
  const __m512 key_mul = sp.key_scales != nullptr
                             ? _mm512_mul_ps(load_f16x16(sp.key_scales + size_t{t} * kTileKeys), _mm512_set1_ps(sp.scale))
                             : _mm512_set1_ps(1.0f);
  for (size_t r = 0; r < H; ++r) {
    __m512i dot = acc[r];
    if (sp.bias != nullptr) dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(sp.bias[r]));
    out[r] = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(sp.mul[r])), key_mul);
    if (sp.add != nullptr) out[r] = _mm512_add_ps(out[r], _mm512_set1_ps(sp.add[r]));
  }
}

constexpr uint32_t kScoreHeads = 8;  // heads per pass over a K tile (8 accumulators)

// Scores of heads r0 .. r0 + h - 1 (h <= kScoreHeads) for 16-key tile t.
void score_tile(const ScoreParams& sp, uint32_t r0, uint32_t h, const uint8_t* values, uint32_t bt, size_t dk,
                uint32_t t, __m512* out) {
  using Fn = void (*)(const ScoreParams&, const uint8_t*, uint32_t, size_t, uint32_t, __m512*);
  static constexpr Fn kByHeads[kScoreHeads] = {&scores_heads<1>, &scores_heads<2>, &scores_heads<3>,
                                               &scores_heads<4>, &scores_heads<5>, &scores_heads<6>,
                                               &scores_heads<7>, &scores_heads<8>};
  ScoreParams part = sp;
  part.q = sp.q + r0 * sp.q_stride;
  part.bias = sp.bias != nullptr ? sp.bias + r0 : nullptr;
  part.mul = sp.mul + r0;
  part.add = sp.add != nullptr ? sp.add + r0 : nullptr;
  kByHeads[h - 1](part, values, bt, dk, t, out);
}

void scores_any(const ScoreParams& sp, uint32_t n_heads, const uint8_t* values, uint32_t bt, size_t dk, uint32_t j0,
                size_t n, float* scores, size_t stride) {
  for_each_tile(j0, n, [&](const Tile& tile) {
    for (uint32_t r0 = 0; r0 < n_heads; r0 += kScoreHeads) {
      const uint32_t h = std::min(kScoreHeads, n_heads - r0);
      __m512 s[kScoreHeads];
      score_tile(sp, r0, h, values, bt, dk, tile.t, s);
      for (uint32_t r = 0; r < h; ++r) store_lanes(scores + (r0 + r) * stride + tile.out, s[r], tile);
    }
  });
}

// Q4Channel: k_c = min_c + scale_c u_c, so q . k = (q * scale) . u + q . min:
// the first as integers (q * scale quantized to int8 per head, which needs
// this block's channel scales), the second a per-head constant. `work` as in
// scores_q4_channel.
ScoreParams q4_score_params(const float* q, uint32_t n_heads, size_t dk, const std::byte* slab, float scale,
                            float* work) {
  const size_t stride = query_stride(dk);
  float* channel_scale = work;
  float* channel_min = work + dk;
  float* mul = channel_min + dk;
  float* add = mul + n_heads;
  auto* q8 = reinterpret_cast<int8_t*>(add + n_heads);
  const auto* f16 = reinterpret_cast<const uint16_t*>(slab);
  for (size_t c = 0; c < dk; c += 16) {
    _mm512_storeu_ps(channel_scale + c, load_f16x16(f16 + c));
    _mm512_storeu_ps(channel_min + c, load_f16x16(f16 + dk + c));
  }
  for (uint32_t r = 0; r < n_heads; ++r) {
    const float* x = q + r * dk;
    __m512 amax = _mm512_setzero_ps();
    __m512 offset = _mm512_setzero_ps();
    for (size_t c = 0; c < dk; c += 16) {
      const __m512 qc = _mm512_loadu_ps(x + c);
      amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_mul_ps(qc, _mm512_loadu_ps(channel_scale + c))));
      offset = _mm512_fmadd_ps(qc, _mm512_loadu_ps(channel_min + c), offset);
    }
    const float m = _mm512_reduce_max_ps(amax);
    mul[r] = scale * m / 127.0f;
    add[r] = scale * _mm512_reduce_add_ps(offset);
    const __m512 inverse = _mm512_set1_ps(m > 0.0f ? 127.0f / m : 0.0f);
    for (size_t c = 0; c < dk; c += 16) {
      const __m512 scaled = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(channel_scale + c)), inverse);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q8 + r * stride + c), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(scaled)));
    }
  }
  return ScoreParams{q8, stride, nullptr, mul, add, nullptr, scale, true};
}

ScoreParams q8_score_params(const int8_t* q, const float* q_scale, const int32_t* q_sum128, size_t dk,
                            const std::byte* slab, float scale) {
  return ScoreParams{q, query_stride(dk), q_sum128, q_scale, nullptr, reinterpret_cast<const uint16_t*>(slab), scale,
                     false};
}

// ---- values -------------------------------------------------------------------------------

// H heads x C chunks of 16 dims (from c0) of one tile: a[r][c] += sum over
// the tile's 16 keys of w[r][j] * v[j][dims], w the heads' u8 weights.
template <size_t H, size_t C, bool Q4>
void accumulate_block(float* acc, size_t dv, const uint8_t* weights, const float* weight_scale,
                      const uint8_t* values, uint32_t t, size_t c0) {
  __m512i a[H][C];
  for (size_t r = 0; r < H; ++r) {
    for (size_t c = 0; c < C; ++c) a[r][c] = _mm512_setzero_si512();
  }
  const size_t group_bytes = Q4 ? 2 * dv : 4 * dv;  // 4 keys' rows
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m512i eight = _mm512_set1_epi8(8);
  for (uint32_t kg = 0; kg < kTileKeys / 4; ++kg) {
    const uint8_t* group = values + (size_t{t} * 4 + kg) * group_bytes;
    __m512i w[H];
    for (size_t r = 0; r < H; ++r) w[r] = _mm512_set1_epi32(load_i32(weights + r * kTileKeys + 4 * kg));
    for (size_t c = 0; c < C; ++c) {
      __m512i v;
      if constexpr (Q4) {
        // 16 dims x 4 keys in 32 bytes: dims d .. d+7 low, d+8 .. d+15 high
        // nibbles; stored unsigned, read as q - 8 (signed).
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + (c0 + 16 * c) * 2));
        const __m256i lo = _mm256_and_si256(x, low);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
        v = _mm512_sub_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), eight);
      } else {
        v = _mm512_loadu_si512(group + (c0 + 16 * c) * 4);
      }
      for (size_t r = 0; r < H; ++r) a[r][c] = _mm512_dpbusd_epi32(a[r][c], w[r], v);
    }
  }
  for (size_t r = 0; r < H; ++r) {
    const __m512 ws = _mm512_set1_ps(weight_scale[r]);
    for (size_t c = 0; c < C; ++c) {
      float* o = acc + r * dv + c0 + 16 * c;
      _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r][c]), ws, _mm512_loadu_ps(o)));
    }
  }
}

template <bool Q4>
void accumulate_tile_heads(float* acc, uint32_t n_heads, size_t dv, const uint8_t* weights, const float* weight_scale,
                           const uint8_t* values, uint32_t t) {
  using Fn = void (*)(float*, size_t, const uint8_t*, const float*, const uint8_t*, uint32_t, size_t);
  static constexpr Fn kTable[4][4] = {
      {&accumulate_block<1, 1, Q4>, &accumulate_block<1, 2, Q4>, &accumulate_block<1, 3, Q4>, &accumulate_block<1, 4, Q4>},
      {&accumulate_block<2, 1, Q4>, &accumulate_block<2, 2, Q4>, &accumulate_block<2, 3, Q4>, &accumulate_block<2, 4, Q4>},
      {&accumulate_block<3, 1, Q4>, &accumulate_block<3, 2, Q4>, &accumulate_block<3, 3, Q4>, &accumulate_block<3, 4, Q4>},
      {&accumulate_block<4, 1, Q4>, &accumulate_block<4, 2, Q4>, &accumulate_block<4, 3, Q4>, &accumulate_block<4, 4, Q4>}};
  const size_t chunks = dv / 16;
  for (uint32_t r = 0; r < n_heads; r += 4) {
    const uint32_t h = std::min(4u, n_heads - r);
    for (size_t c = 0; c < chunks; c += 4) {
      const size_t nc = std::min<size_t>(4, chunks - c);
      kTable[h - 1][nc - 1](acc + r * dv, dv, weights + r * kTileKeys, weight_scale + r, values, t, 16 * c);
    }
  }
}

// e^x on 16 lanes: ops::exp_approx's range reduction and polynomial.
inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3365447505531f)), _mm512_set1_ps(88.3762626647949f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f), _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), xc));
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i exponent = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  const __m512 result = _mm512_mul_ps(p, _mm512_castsi512_ps(exponent));
  // Below the range (and -inf, the masked keys): 0, as exp_approx.
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447505531f), _CMP_GE_OQ), result);
}

// One 16-key tile of a V slab: the rows' scales, and for q4 their base
// (rows are min + scale * u = (min + 8 scale) + scale * (u - 8)).
struct ValueTile {
  __m512 scale;
  __m512 base;
  __mmask16 mask;
  bool q4;
};

constexpr uint32_t kWeightHeads = 8;

// Head weights p (16 keys; zero outside the tile) as u8 for the integer sum:
// w = p * scale quantized over the tile (step max / 255). For q4, adds the
// base term sum_j p_j base_j to every dim of acc_row.
inline void quantize_weights(__m512 p, const ValueTile& vt, uint8_t* weights, float& weight_scale, float* acc_row,
                             size_t dv) {
  // Lanes outside the tile's keys are zero (their scales may be junk).
  const __m512 w = _mm512_maskz_mul_ps(vt.mask, p, vt.scale);
  const float w_max = _mm512_reduce_max_ps(w);
  const __m512 to_u8 = _mm512_set1_ps(w_max > 0.0f ? 255.0f / w_max : 0.0f);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(weights), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(w, to_u8))));
  weight_scale = w_max / 255.0f;
  if (vt.q4) {
    const __m512 offset = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_maskz_mul_ps(vt.mask, p, vt.base)));
    for (size_t d = 0; d < dv; d += 16) _mm512_storeu_ps(acc_row + d, _mm512_add_ps(_mm512_loadu_ps(acc_row + d), offset));
  }
}

// A Q8Token / Q4Token slab.
struct ValueSlab {
  ValueSlab(bool q4_, const std::byte* slab, uint32_t block_tokens)
      : q4(q4_),
        row_scale(reinterpret_cast<const uint16_t*>(slab)),
        row_min(reinterpret_cast<const uint16_t*>(slab + 2 * size_t{block_tokens})),
        values(reinterpret_cast<const uint8_t*>(
            slab + kv_slab_values_offset(q4_ ? KvLayout::Q4Token : KvLayout::Q8Token, block_tokens))) {}
  ValueTile tile(const Tile& tile) const {
    const __m512 scale = load_f16x16(row_scale + size_t{tile.t} * kTileKeys);
    const __m512 base = q4 ? _mm512_fmadd_ps(scale, _mm512_set1_ps(8.0f), load_f16x16(row_min + size_t{tile.t} * kTileKeys))
                           : _mm512_setzero_ps();
    return ValueTile{scale, base, tile.mask(), q4};
  }
  void accumulate(float* acc, uint32_t n_heads, size_t dv, const uint8_t* weights, const float* weight_scale,
                  uint32_t t) const {
    if (q4) return accumulate_tile_heads<true>(acc, n_heads, dv, weights, weight_scale, values, t);
    accumulate_tile_heads<false>(acc, n_heads, dv, weights, weight_scale, values, t);
  }
  bool q4;
  const uint16_t* row_scale;
  const uint16_t* row_min;
  const uint8_t* values;
};

}  // namespace

bool usable() {
  static const bool ok = [] {
    const SimdFeatures simd = simd_features_from_cpuid();
    return simd.avx512f && simd.avx512bw && simd.avx512vl && simd.avx512_vnni && simd.f16c;
  }();
  return ok;
}

bool usable_for(uint32_t block_tokens, size_t dk, size_t dv) {
  return usable() && block_tokens % kTileKeys == 0 && dk % 16 == 0 && dv % 16 == 0;
}

void quantize_query(const float* q, uint32_t n_heads, size_t dk, int8_t* out, float* scale, int32_t* sum128) {
  const size_t stride = query_stride(dk);
  for (uint32_t r = 0; r < n_heads; ++r) {
    const float* x = q + r * dk;
    float amax = 0.0f;
    for (size_t c = 0; c < dk; ++c) amax = std::max(amax, std::fabs(x[c]));
    scale[r] = amax / 127.0f;
    const float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    int8_t* o = out + r * stride;
    for (size_t c = 0; c < stride; ++c) {
      o[c] = c < dk ? static_cast<int8_t>(std::nearbyint(x[c] * inverse)) : int8_t{0};
      sum += o[c];
    }
    sum128[r] = 128 * sum;
  }
}

void scores_q8(const int8_t* q, const float* q_scale, const int32_t* q_sum128, uint32_t n_heads, size_t dk,
               const std::byte* slab, uint32_t block_tokens, uint32_t j0, size_t n, float scale, float* scores,
               size_t scores_stride) {
  const ScoreParams sp = q8_score_params(q, q_scale, q_sum128, dk, slab, scale);
  const auto* values = reinterpret_cast<const uint8_t*>(slab + kv_slab_values_offset(KvLayout::Q8Key, block_tokens));
  scores_any(sp, n_heads, values, block_tokens, dk, j0, n, scores, scores_stride);
}

void scores_q4_channel(const float* q, uint32_t n_heads, size_t dk, const std::byte* slab, uint32_t block_tokens,
                       uint32_t j0, size_t n, float scale, float* scores, size_t scores_stride, float* work) {
  const ScoreParams sp = q4_score_params(q, n_heads, dk, slab, scale, work);
  const auto* values = reinterpret_cast<const uint8_t*>(slab + 4 * dk);
  scores_any(sp, n_heads, values, block_tokens, dk, j0, n, scores, scores_stride);
}

void accumulate(bool q4, float* acc, uint32_t n_heads, const float* p, size_t p_stride, const std::byte* slab,
                uint32_t block_tokens, size_t dv, uint32_t j0, size_t n) {
  const ValueSlab vs(q4, slab, block_tokens);
  alignas(64) uint8_t weights[kWeightHeads * kTileKeys];
  float weight_scale[kWeightHeads];
  for_each_tile(j0, n, [&](const Tile& tile) {
    const ValueTile vt = vs.tile(tile);
    for (uint32_t r0 = 0; r0 < n_heads; r0 += kWeightHeads) {
      const uint32_t h = std::min(kWeightHeads, n_heads - r0);
      for (uint32_t r = 0; r < h; ++r) {
        const __m512 pr = load_lanes(p + (r0 + r) * p_stride + tile.out, tile);
        quantize_weights(pr, vt, weights + r * kTileKeys, weight_scale[r], acc + (r0 + r) * dv, dv);
      }
      vs.accumulate(acc + r0 * dv, h, dv, weights, weight_scale, tile.t);
    }
  });
}

bool attend_block(const BlockSlabs& slabs, uint32_t block_tokens, size_t dk, size_t dv, uint32_t j0, size_t n,
                  uint32_t n_heads, float scale, OnlineSoftmax state, float* work) {
  const bool k_q4 = slabs.k_layout == KvLayout::Q4Channel;
  if (!k_q4 && slabs.k_layout != KvLayout::Q8Key) return false;
  if (slabs.v_layout != KvLayout::Q8Token && slabs.v_layout != KvLayout::Q4Token) return false;
  const ScoreParams sp = k_q4 ? q4_score_params(slabs.q, n_heads, dk, slabs.k_slab, scale, work)
                              : q8_score_params(slabs.q_int8, slabs.q_int8_scale, slabs.q_int8_sum128, dk, slabs.k_slab, scale);
  const auto* k_values = reinterpret_cast<const uint8_t*>(
      slabs.k_slab + (k_q4 ? 4 * dk : kv_slab_values_offset(KvLayout::Q8Key, block_tokens)));
  const ValueSlab vs(slabs.v_layout == KvLayout::Q4Token, slabs.v_slab, block_tokens);
  alignas(64) uint8_t weights[kScoreHeads * kTileKeys];
  float weight_scale[kScoreHeads];
  const __m512 minus_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for_each_tile(j0, n, [&](const Tile& tile) {
    const ValueTile vt = vs.tile(tile);
    const __mmask16 mask = tile.mask();
    for (uint32_t r0 = 0; r0 < n_heads; r0 += kScoreHeads) {
      const uint32_t h = std::min(kScoreHeads, n_heads - r0);
      __m512 s[kScoreHeads];
      score_tile(sp, r0, h, k_values, block_tokens, dk, tile.t, s);
      for (uint32_t r = 0; r < h; ++r) {
        // Online softmax over this tile (keys outside it: -inf, weight 0).
        const uint32_t head = r0 + r;
        const __m512 sr = _mm512_mask_blend_ps(mask, minus_infinity, s[r]);
        const float tile_max = _mm512_reduce_max_ps(sr);
        float* acc = state.acc + head * dv;
        if (tile_max > state.row_max[head]) {
          const float alpha = ops::exp_approx(state.row_max[head] - tile_max);
          state.row_max[head] = tile_max;
          state.row_sum[head] *= alpha;
          const __m512 a = _mm512_set1_ps(alpha);
          for (size_t d = 0; d < dv; d += 16) _mm512_storeu_ps(acc + d, _mm512_mul_ps(_mm512_loadu_ps(acc + d), a));
        }
        const __m512 pr = _mm512_maskz_mov_ps(mask, exp16(_mm512_sub_ps(sr, _mm512_set1_ps(state.row_max[head]))));
        state.row_sum[head] += _mm512_reduce_add_ps(pr);
        quantize_weights(pr, vt, weights + r * kTileKeys, weight_scale[r], acc, dv);
      }
      vs.accumulate(state.acc + r0 * dv, h, dv, weights, weight_scale, tile.t);
    }
  });
  return true;
}

}  // namespace pocketllm::attention_vnni

#include "backends/cpu/avx512_target_end.inc"

#else  // not x86-64

namespace pocketllm::attention_vnni {
bool usable() { return false; }
bool usable_for(uint32_t, size_t, size_t) { return false; }
void quantize_query(const float*, uint32_t, size_t, int8_t*, float*, int32_t*) {}
void scores_q8(const int8_t*, const float*, const int32_t*, uint32_t, size_t, const std::byte*, uint32_t, uint32_t,
               size_t, float, float*, size_t) {}
void scores_q4_channel(const float*, uint32_t, size_t, const std::byte*, uint32_t, uint32_t, size_t, float, float*,
                       size_t, float*) {}
void accumulate(bool, float*, uint32_t, const float*, size_t, const std::byte*, uint32_t, size_t, uint32_t, size_t) {}
bool attend_block(const BlockSlabs&, uint32_t, size_t, size_t, uint32_t, size_t, uint32_t, float, OnlineSoftmax, float*) {
  return false;
}
}  // namespace pocketllm::attention_vnni

#endif
