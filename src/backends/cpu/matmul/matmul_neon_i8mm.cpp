// Arm NEON kernels with the Armv8.6 int8 matrix multiply (SMMLA, "i8mm"),
// compiled for it whatever the build's -march; the dispatcher checks HWCAP2
// at run time (MatmulIsa::NeonI8mm). SMMLA multiplies a 2x8 by an 8x2 int8
// matrix into 2x2 int32: here 2 weight rows by 2 tokens over 8 elements, 32
// multiply-adds where SDOT does 16, for batches of 2 tokens or more (a lone
// token pairs with itself; batch 1 costs about what SDOT does). Kernels for the
// integer formats: those with BlockQ8x32 activations (the decoders of
// matmul_neon_kernels.inc) and the K-quants and IQ4_XS with Q8_K (decoded to
// KBlockInt, k_block_int.h); f32 / f16 / bf16 take the dotprod kernels.
//
// Arithmetic per output Y[t][r]: for each block in order, the block's exact
// int32 sum (K formats: group sums times group scales), then acc +=
// float(sum) * (d_row * d_token) (one fused multiply-add), plus a separate
// sum of the offset / min terms (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K); Y = acc +/-
// that. Each (row, token) lane does this alone, so a
// token's result is the same bits in any batch, tile position or row split
// (a lone token or row is paired with a copy of itself). It differs from the
// dotprod kernels' in the last bits (those keep 4 partial sums per output).
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/matmul/k_block_int.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/scalar_types.h"

#define POCKETLLM_NEON_NS neon_i8mm
#define POCKETLLM_NEON_DOTPROD 1
#define POCKETLLM_NEON_DECODERS_ONLY  // no kernel table: the one below
#define POCKETLLM_TARGET "dotprod,i8mm"
#define POCKETLLM_TARGET_GCC "arch=armv8.2-a+dotprod+i8mm"  // as arm_neon.h declares vmmlaq_s32
#include "backends/cpu/target_begin.inc"
#include "backends/cpu/matmul/matmul_neon_kernels.inc"

namespace pocketllm::matmul_detail::neon_i8mm {
namespace {

// acc + the 2x2 int32 products of w (2 rows x 8 int8) by a (2 tokens x 8
// int8): {w0.a0, w0.a1, w1.a0, w1.a1}.
inline int32x4_t smmla(int32x4_t acc, int8x16_t w, int8x16_t a) {
#if defined(__clang__) && !defined(__ARM_FEATURE_MATMUL_INT8)
  // As sdot: older clang declares vmmlaq_s32 only for whole-build targets.
  __asm__(".arch armv8.2-a+i8mm\n\tsmmla %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(w), "w"(a));
  return acc;
#else
  return vmmlaq_s32(acc, w, a);
#endif
}

// The 32 int8 of two blocks (2 rows, or 2 tokens) as 4 SMMLA operands:
// operand g = elements 8g .. 8g+7 of the first block, then of the second.
struct PairOperands {
  int8x16_t g[4];
};

inline PairOperands interleave(int8x16x2_t first, int8x16x2_t second) {
  const int64x2_t f0 = vreinterpretq_s64_s8(first.val[0]);
  const int64x2_t f1 = vreinterpretq_s64_s8(first.val[1]);
  const int64x2_t s0 = vreinterpretq_s64_s8(second.val[0]);
  const int64x2_t s1 = vreinterpretq_s64_s8(second.val[1]);
  return {{vreinterpretq_s8_s64(vzip1q_s64(f0, s0)), vreinterpretq_s8_s64(vzip2q_s64(f0, s0)),
           vreinterpretq_s8_s64(vzip1q_s64(f1, s1)), vreinterpretq_s8_s64(vzip2q_s64(f1, s1))}};
}

inline int8x16x2_t load_q8x32(const BlockQ8x32& b) { return {{vld1q_s8(b.qs), vld1q_s8(b.qs + 16)}}; }

// {x0, x1, x0, x1}: a token pair's values in the lane order of smmla.
inline float32x4_t token_lanes(float x0, float x1) {
  const float pair[2] = {x0, x1};
  const float32x2_t v = vld1_f32(pair);
  return vcombine_f32(v, v);
}

// {x0, x0, x1, x1}: a row pair's values in the lane order of smmla.
inline float32x4_t row_lanes(float x0, float x1) { return vcombine_f32(vdup_n_f32(x0), vdup_n_f32(x1)); }

template <typename Decode>
inline constexpr bool kHasOffset = std::is_same_v<Decode, DecodeQ4_1> || std::is_same_v<Decode, DecodeQ5_1>;

constexpr int kTileRows = 4;  // two row pairs
constexpr int kTileTokens = 4;  // up to two token pairs

// Y of 4 rows x 2 * TokenPairs tokens over all blocks; out[row pair][token
// pair] in smmla's lane order.
template <typename Decode, size_t TokenPairs>
void tile_q8x32(const uint8_t* const* rows, const BlockQ8x32* const* tokens, int64_t blocks,
                float32x4_t (&out)[2][2]) {
  float32x4_t acc[2][TokenPairs];
  float32x4_t offset_sum[2][TokenPairs];
  for (size_t rp = 0; rp < 2; ++rp) {
    for (size_t p = 0; p < TokenPairs; ++p) {
      acc[rp][p] = vdupq_n_f32(0.0f);
      offset_sum[rp][p] = vdupq_n_f32(0.0f);
    }
  }
  for (int64_t i = 0; i < blocks; ++i) {
    PairOperands a[TokenPairs];
    float32x4_t a_scale[TokenPairs];
    float32x4_t a_sum[TokenPairs];
    for (size_t p = 0; p < TokenPairs; ++p) {
      const BlockQ8x32& t0 = tokens[2 * p][i];
      const BlockQ8x32& t1 = tokens[2 * p + 1][i];
      a[p] = interleave(load_q8x32(t0), load_q8x32(t1));
      a_scale[p] = token_lanes(t0.d, t1.d);
      if constexpr (kHasOffset<Decode>) {
        a_sum[p] = token_lanes(static_cast<float>(t0.sum), static_cast<float>(t1.sum));
      }
    }
    const size_t offset = static_cast<size_t>(i) * Decode::kBytes;
    // Unrolled, so that acc stays in registers (constant indices).
#pragma GCC unroll 2
    for (size_t rp = 0; rp < 2; ++rp) {
      const uint8_t* b0 = rows[2 * rp] + offset;
      const uint8_t* b1 = rows[2 * rp + 1] + offset;
      const PairOperands w = interleave(Decode::quants(b0), Decode::quants(b1));
      const float32x4_t w_scale = row_lanes(Decode::scale(b0), Decode::scale(b1));
      for (size_t p = 0; p < TokenPairs; ++p) {
        int32x4_t sum = smmla(vdupq_n_s32(0), w.g[0], a[p].g[0]);
        sum = smmla(sum, w.g[1], a[p].g[1]);
        sum = smmla(sum, w.g[2], a[p].g[2]);
        sum = smmla(sum, w.g[3], a[p].g[3]);
        acc[rp][p] = vfmaq_f32(acc[rp][p], vcvtq_f32_s32(sum), vmulq_f32(w_scale, a_scale[p]));
      }
      if constexpr (kHasOffset<Decode>) {
        const float32x4_t w_offset = row_lanes(Decode::offset(b0), Decode::offset(b1));
        for (size_t p = 0; p < TokenPairs; ++p) {
          offset_sum[rp][p] = vaddq_f32(offset_sum[rp][p], vmulq_f32(vmulq_f32(w_offset, a_scale[p]), a_sum[p]));
        }
      }
    }
  }
  for (size_t rp = 0; rp < 2; ++rp) {
    for (size_t p = 0; p < TokenPairs; ++p) out[rp][p] = vaddq_f32(acc[rp][p], offset_sum[rp][p]);
  }
}

// ---- K-quants and IQ4_XS against Q8_K: super-blocks as KBlockInt ----

// Q4_K as KBlockInt (the other formats' decoders are in k_block_int.h).
inline void decode_q4_k(const uint8_t* b, KBlockInt& out) {
  out.d = load_fp16(b);
  out.dmin = load_fp16(b + 2);
  for (int g = 0; g < 8; ++g) {
    const ScaleMin sm = k4_scale_min(g, b + 4);
    out.scale[2 * g] = out.scale[2 * g + 1] = sm.scale;
    out.min[2 * g] = out.min[2 * g + 1] = sm.min;
  }
  // 64 elements per 32 bytes: low nibbles are group 2j, high nibbles 2j + 1.
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 4; ++j) {
    const int8x16x2_t n0 = unpack_nibbles(qs + 32 * j);
    const int8x16x2_t n1 = unpack_nibbles(qs + 32 * j + 16);
    vst1q_s8(out.q + 64 * j, n0.val[0]);
    vst1q_s8(out.q + 64 * j + 16, n1.val[0]);
    vst1q_s8(out.q + 64 * j + 32, n0.val[1]);
    vst1q_s8(out.q + 64 * j + 48, n1.val[1]);
  }
}

// The 16 per-group int16 values of two rows as {v0[g], v0[g], v1[g], v1[g]}.
inline void row_pair_lanes(const int16_t* v0, const int16_t* v1, int32x4_t (&out)[16]) {
  for (int h = 0; h < 2; ++h) {
    const int16x8_t a = vld1q_s16(v0 + 8 * h);
    const int16x8_t b = vld1q_s16(v1 + 8 * h);
    const int32x4_t aa[2] = {vreinterpretq_s32_s16(vzip1q_s16(a, a)), vreinterpretq_s32_s16(vzip2q_s16(a, a))};
    const int32x4_t bb[2] = {vreinterpretq_s32_s16(vzip1q_s16(b, b)), vreinterpretq_s32_s16(vzip2q_s16(b, b))};
    for (int q = 0; q < 2; ++q) {
      const int16x8_t lo = vreinterpretq_s16_s32(vzip1q_s32(aa[q], bb[q]));  // groups 4q, 4q + 1
      const int16x8_t hi = vreinterpretq_s16_s32(vzip2q_s32(aa[q], bb[q]));  // groups 4q + 2, 4q + 3
      int32x4_t* o = out + 8 * h + 4 * q;
      o[0] = vmovl_s16(vget_low_s16(lo));
      o[1] = vmovl_high_s16(lo);
      o[2] = vmovl_s16(vget_low_s16(hi));
      o[3] = vmovl_high_s16(hi);
    }
  }
}

// sum_g m[g] * bsums[g] over the 16 groups.
inline int32_t min_dot(const int16_t* m, const int16_t* bsums) {
  const int16x8_t m0 = vld1q_s16(m);
  const int16x8_t m1 = vld1q_s16(m + 8);
  const int16x8_t s0 = vld1q_s16(bsums);
  const int16x8_t s1 = vld1q_s16(bsums + 8);
  int32x4_t p = vmull_s16(vget_low_s16(m0), vget_low_s16(s0));
  p = vmlal_high_s16(p, m0, s0);
  p = vmlal_s16(p, vget_low_s16(m1), vget_low_s16(s1));
  p = vmlal_high_s16(p, m1, s1);
  return vaddvq_s32(p);
}

// As tile_q8x32 for super-blocks: per group of 16, 2 SMMLA times the rows'
// group scales, summed over the block in int32; then acc += float(sum) *
// (d_row * d_token) and, for formats with mins, min_sum += dmin_row *
// d_token * float(sum_g min[g] * bsums[g]); Y = acc - min_sum.
template <void (*Decode)(const uint8_t*, KBlockInt&), size_t kBytes, bool kHasMin, size_t TokenPairs>
void tile_k(const uint8_t* const* rows, const BlockQ8_K* const* tokens, int64_t blocks, float32x4_t (&out)[2][2]) {
  float32x4_t acc[2][TokenPairs];
  float32x4_t min_sum[2][TokenPairs];
  for (size_t rp = 0; rp < 2; ++rp) {
    for (size_t p = 0; p < TokenPairs; ++p) {
      acc[rp][p] = vdupq_n_f32(0.0f);
      min_sum[rp][p] = vdupq_n_f32(0.0f);
    }
  }
  KBlockInt kb[2];
  for (int64_t i = 0; i < blocks; ++i) {
    int8x16_t a[TokenPairs][32];  // per token pair, group g: operands 2g, 2g + 1
    float32x4_t a_scale[TokenPairs];
    for (size_t p = 0; p < TokenPairs; ++p) {
      const BlockQ8_K& t0 = tokens[2 * p][i];
      const BlockQ8_K& t1 = tokens[2 * p + 1][i];
      for (int g = 0; g < 16; g += 2) {
        const int8x16x2_t q0 = {{vld1q_s8(t0.qs + 16 * g), vld1q_s8(t0.qs + 16 * g + 16)}};
        const int8x16x2_t q1 = {{vld1q_s8(t1.qs + 16 * g), vld1q_s8(t1.qs + 16 * g + 16)}};
        const PairOperands ops = interleave(q0, q1);
        for (int o = 0; o < 4; ++o) a[p][2 * g + o] = ops.g[o];
      }
      a_scale[p] = token_lanes(t0.d, t1.d);
    }
    const size_t offset = static_cast<size_t>(i) * kBytes;
#pragma GCC unroll 2
    for (size_t rp = 0; rp < 2; ++rp) {
      Decode(rows[2 * rp] + offset, kb[0]);
      Decode(rows[2 * rp + 1] + offset, kb[1]);
      int32x4_t scales[16];
      row_pair_lanes(kb[0].scale, kb[1].scale, scales);
      int32x4_t sum[TokenPairs];
      for (size_t p = 0; p < TokenPairs; ++p) sum[p] = vdupq_n_s32(0);
      for (int g = 0; g < 16; g += 2) {
        const int8x16x2_t q0 = {{vld1q_s8(kb[0].q + 16 * g), vld1q_s8(kb[0].q + 16 * g + 16)}};
        const int8x16x2_t q1 = {{vld1q_s8(kb[1].q + 16 * g), vld1q_s8(kb[1].q + 16 * g + 16)}};
        const PairOperands w = interleave(q0, q1);
        for (size_t p = 0; p < TokenPairs; ++p) {
          const int32x4_t s0 = smmla(smmla(vdupq_n_s32(0), w.g[0], a[p][2 * g]), w.g[1], a[p][2 * g + 1]);
          const int32x4_t s1 = smmla(smmla(vdupq_n_s32(0), w.g[2], a[p][2 * g + 2]), w.g[3], a[p][2 * g + 3]);
          sum[p] = vmlaq_s32(vmlaq_s32(sum[p], s0, scales[g]), s1, scales[g + 1]);
        }
      }
      const float32x4_t w_scale = row_lanes(kb[0].d, kb[1].d);
      for (size_t p = 0; p < TokenPairs; ++p) {
        acc[rp][p] = vfmaq_f32(acc[rp][p], vcvtq_f32_s32(sum[p]), vmulq_f32(w_scale, a_scale[p]));
      }
      if constexpr (kHasMin) {
        const float32x4_t w_min = row_lanes(kb[0].dmin, kb[1].dmin);
        for (size_t p = 0; p < TokenPairs; ++p) {
          const int16_t* b0 = tokens[2 * p][i].bsums;
          const int16_t* b1 = tokens[2 * p + 1][i].bsums;
          const int32_t m[4] = {min_dot(kb[0].min, b0), min_dot(kb[0].min, b1), min_dot(kb[1].min, b0),
                                min_dot(kb[1].min, b1)};
          const float32x4_t mins = vcvtq_f32_s32(vld1q_s32(m));
          min_sum[rp][p] = vaddq_f32(min_sum[rp][p], vmulq_f32(vmulq_f32(w_min, a_scale[p]), mins));
        }
      }
    }
  }
  for (size_t rp = 0; rp < 2; ++rp) {
    for (size_t p = 0; p < TokenPairs; ++p) out[rp][p] = vsubq_f32(acc[rp][p], min_sum[rp][p]);
  }
}

// The tiles as the blocked loop below takes them.
template <typename Decode>
struct Q8x32Tile {
  using Token = BlockQ8x32;
  static constexpr int64_t kBlock = kQK32;
  template <size_t TokenPairs>
  static void run(const uint8_t* const* rows, const Token* const* tokens, int64_t blocks, float32x4_t (&out)[2][2]) {
    tile_q8x32<Decode, TokenPairs>(rows, tokens, blocks, out);
  }
};

template <void (*Decode)(const uint8_t*, KBlockInt&), size_t kBytes, bool kHasMin>
struct KTile {
  using Token = BlockQ8_K;
  static constexpr int64_t kBlock = kQKK;
  template <size_t TokenPairs>
  static void run(const uint8_t* const* rows, const Token* const* tokens, int64_t blocks, float32x4_t (&out)[2][2]) {
    tile_k<Decode, kBytes, kHasMin, TokenPairs>(rows, tokens, blocks, out);
  }
};

// Row tiles of kRowTile as the other kernels, within them tiles of 4 rows x
// 4 tokens; a partial tile repeats its last row / token and drops those lanes.
template <typename Tile>
void multiply_rows_i8mm(const WeightMatrix& w, const PreparedActivations& a, float* y, int64_t ldy,
                        int64_t row_begin, int64_t row_end) {
  using Token = typename Tile::Token;
  const size_t row_bytes = w.row_bytes();
  const int64_t blocks = w.k / Tile::kBlock;
  const auto* data = reinterpret_cast<const uint8_t*>(w.data);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowTile) {
    const int64_t r1 = std::min(row_end, r0 + kRowTile);
    for (int64_t t0 = 0; t0 < a.n; t0 += kTileTokens) {
      const int nt = static_cast<int>(std::min<int64_t>(kTileTokens, a.n - t0));
      const Token* tokens[kTileTokens];
      for (int c = 0; c < kTileTokens; ++c) {
        tokens[c] = reinterpret_cast<const Token*>(a.quantized +
                                                         static_cast<size_t>(t0 + std::min(c, nt - 1)) * a.row_bytes);
      }
      for (int64_t r = r0; r < r1; r += kTileRows) {
        const int nr = static_cast<int>(std::min<int64_t>(kTileRows, r1 - r));
        const uint8_t* rows[kTileRows];
        for (int j = 0; j < kTileRows; ++j) rows[j] = data + static_cast<size_t>(r + std::min(j, nr - 1)) * row_bytes;
        float32x4_t out[2][2];
        if (nt <= 2) {
          Tile::template run<1>(rows, tokens, blocks, out);
        } else {
          Tile::template run<2>(rows, tokens, blocks, out);
        }
        for (int rp = 0; rp < 2; ++rp) {
          for (int p = 0; p < (nt + 1) / 2; ++p) {
            float lanes[4];
            vst1q_f32(lanes, out[rp][p]);
            for (int lane = 0; lane < 4; ++lane) {
              const int j = 2 * rp + lane / 2;
              const int c = 2 * p + lane % 2;
              if (j < nr && c < nt) y[(t0 + c) * ldy + r + j] = lanes[lane];
            }
          }
        }
      }
    }
  }
}

}  // namespace

TypeKernel kernel(GgmlType type) {
  constexpr auto q8 = ActivationFormat::Q8x32;
  constexpr auto qk = ActivationFormat::Q8K;
  switch (type) {
    case GgmlType::Q4_0: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeQ4_0>>};
    case GgmlType::Q4_1: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeQ4_1>>};
    case GgmlType::Q5_0: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeQ5_0>>};
    case GgmlType::Q5_1: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeQ5_1>>};
    case GgmlType::Q8_0: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeQ8_0>>};
    case GgmlType::IQ4_NL: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeIq4Nl>>};
    case GgmlType::MXFP4: return {q8, multiply_rows_i8mm<Q8x32Tile<DecodeMxfp4>>};
    case GgmlType::Q2_K: return {qk, multiply_rows_i8mm<KTile<decode_q2_k, sizeof(BlockQ2_K), true>>};
    case GgmlType::Q3_K: return {qk, multiply_rows_i8mm<KTile<decode_q3_k, sizeof(BlockQ3_K), false>>};
    case GgmlType::Q4_K: return {qk, multiply_rows_i8mm<KTile<decode_q4_k, sizeof(BlockQ4_K), true>>};
    case GgmlType::Q5_K: return {qk, multiply_rows_i8mm<KTile<decode_q5_k, sizeof(BlockQ5_K), true>>};
    case GgmlType::Q6_K: return {qk, multiply_rows_i8mm<KTile<decode_q6_k, sizeof(BlockQ6_K), false>>};
    case GgmlType::IQ4_XS: return {qk, multiply_rows_i8mm<KTile<decode_iq4_xs, sizeof(BlockIq4Xs), false>>};
    default: return {};
  }
}

}  // namespace pocketllm::matmul_detail::neon_i8mm

#include "backends/cpu/target_end.inc"

namespace pocketllm::matmul_detail {
TypeKernel neon_i8mm_kernel(GgmlType type) {
  const TypeKernel k = neon_i8mm::kernel(type);
  return k.fn != nullptr ? k : neon_dotprod_kernel(type);
}
}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel neon_i8mm_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
