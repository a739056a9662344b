// Arm NEON kernels (baseline Advanced SIMD of aarch64, no dotprod needed):
// f32 / f16 / bf16 weights, and the 32-element integer formats against
// BlockQ8x32 activations via widening multiplies (smull/smlal + sadalp).
// K-quants fall back to the scalar kernel on Arm for now.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/scalar_types.h"

namespace pocketllm::matmul_detail {
namespace {

inline float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_f32(h);
}

// 16 packed bytes -> {low nibbles (elements 0..15), high nibbles (16..31)}.
inline int8x16x2_t unpack_nibbles(const uint8_t* qs) {
  const uint8x16_t raw = vld1q_u8(qs);
  return {{vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), vreinterpretq_s8_u8(vshrq_n_u8(raw, 4))}};
}

struct DecodeQ4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static int8x16x2_t quants(const uint8_t* b) {
    int8x16x2_t q = unpack_nibbles(b + 2);
    q.val[0] = vsubq_s8(q.val[0], vdupq_n_s8(8));
    q.val[1] = vsubq_s8(q.val[1], vdupq_n_s8(8));
    return q;
  }
  static float scale(const uint8_t* b) { return load_fp16(b); }
  static float offset(const uint8_t*) { return 0.0f; }
};

struct DecodeQ4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static int8x16x2_t quants(const uint8_t* b) { return unpack_nibbles(b + 4); }
  static float scale(const uint8_t* b) { return load_fp16(b); }
  static float offset(const uint8_t* b) { return load_fp16(b + 2); }
};

struct DecodeQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static int8x16x2_t quants(const uint8_t* b) {
    return {{vld1q_s8(reinterpret_cast<const int8_t*>(b + 2)), vld1q_s8(reinterpret_cast<const int8_t*>(b + 18))}};
  }
  static float scale(const uint8_t* b) { return load_fp16(b); }
  static float offset(const uint8_t*) { return 0.0f; }
};

template <const int8_t (&kTable)[16], size_t kScaleBytes>
struct DecodeTable {
  static int8x16x2_t lookup(const uint8_t* qs) {
    const int8x16_t table = vld1q_s8(kTable);
    const int8x16x2_t n = unpack_nibbles(qs);
    return {{vqtbl1q_s8(table, vreinterpretq_u8_s8(n.val[0])), vqtbl1q_s8(table, vreinterpretq_u8_s8(n.val[1]))}};
  }
};

struct DecodeIq4Nl {
  static constexpr size_t kBytes = sizeof(BlockIq4Nl);
  static int8x16x2_t quants(const uint8_t* b) { return DecodeTable<kIq4nlValues, 2>::lookup(b + 2); }
  static float scale(const uint8_t* b) { return load_fp16(b); }
  static float offset(const uint8_t*) { return 0.0f; }
};

struct DecodeMxfp4 {
  static constexpr size_t kBytes = sizeof(BlockMxfp4);
  static int8x16x2_t quants(const uint8_t* b) { return DecodeTable<kMxfp4Values, 1>::lookup(b + 1); }
  static float scale(const uint8_t* b) { return e8m0_to_f32_half(b[0]); }
  static float offset(const uint8_t*) { return 0.0f; }
};

// 32 int8 products summed into 4 int32 lanes; |q * a| pairs <= 2 * 128 * 127 fit int16.
inline int32x4_t dot32(int8x16x2_t q, const int8_t* a) {
  const int8x16_t a0 = vld1q_s8(a);
  const int8x16_t a1 = vld1q_s8(a + 16);
  int16x8_t p0 = vmull_s8(vget_low_s8(q.val[0]), vget_low_s8(a0));
  p0 = vmlal_s8(p0, vget_high_s8(q.val[0]), vget_high_s8(a0));
  int16x8_t p1 = vmull_s8(vget_low_s8(q.val[1]), vget_low_s8(a1));
  p1 = vmlal_s8(p1, vget_high_s8(q.val[1]), vget_high_s8(a1));
  return vpadalq_s16(vpaddlq_s16(p0), p1);
}

template <typename Decode, size_t NC>
void row_dot_q8x32(const uint8_t* row, const BlockQ8x32* const* act, int64_t blocks, float* out) {
  float32x4_t acc[NC];
  float offset_sum[NC];
  for (size_t c = 0; c < NC; ++c) {
    acc[c] = vdupq_n_f32(0.0f);
    offset_sum[c] = 0.0f;
  }
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* b = row + static_cast<size_t>(i) * Decode::kBytes;
    const int8x16x2_t q = Decode::quants(b);
    const float d = Decode::scale(b);
    const float m = Decode::offset(b);
    for (size_t c = 0; c < NC; ++c) {
      const BlockQ8x32& a = act[c][i];
      acc[c] = vfmaq_n_f32(acc[c], vcvtq_f32_s32(dot32(q, a.qs)), d * a.d);
      offset_sum[c] += m * a.d * static_cast<float>(a.sum);
    }
  }
  for (size_t c = 0; c < NC; ++c) out[c] = vaddvq_f32(acc[c]) + offset_sum[c];
}

struct LoadF32 {
  static float32x4_t load4(const uint8_t* row, int64_t i) {
    return vld1q_f32(reinterpret_cast<const float*>(row) + i);
  }
  static float load1(const uint8_t* row, int64_t i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  }
};
struct LoadF16 {
  static float32x4_t load4(const uint8_t* row, int64_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(row) + i)));
  }
  static float load1(const uint8_t* row, int64_t i) { return load_fp16(row + 2 * i); }
};
struct LoadBf16 {
  static float32x4_t load4(const uint8_t* row, int64_t i) {
    const uint16x4_t h = vld1_u16(reinterpret_cast<const uint16_t*>(row) + i);
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
  }
  static float load1(const uint8_t* row, int64_t i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    return bf16_to_f32(h);
  }
};

template <typename Load, size_t NC>
void row_dot_float(const uint8_t* row, const float* const* x, int64_t k, float* out) {
  float32x4_t acc0[NC], acc1[NC];
  for (size_t c = 0; c < NC; ++c) {
    acc0[c] = vdupq_n_f32(0.0f);
    acc1[c] = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const float32x4_t w0 = Load::load4(row, i);
    const float32x4_t w1 = Load::load4(row, i + 4);
    for (size_t c = 0; c < NC; ++c) {
      acc0[c] = vfmaq_f32(acc0[c], w0, vld1q_f32(x[c] + i));
      acc1[c] = vfmaq_f32(acc1[c], w1, vld1q_f32(x[c] + i + 4));
    }
  }
  for (size_t c = 0; c < NC; ++c) {
    float sum = vaddvq_f32(vaddq_f32(acc0[c], acc1[c]));
    for (int64_t j = i; j < k; ++j) sum += Load::load1(row, j) * x[c][j];
    out[c] = sum;
  }
}

template <typename Decode>
struct Q8x32RowDot {
  using Token = BlockQ8x32;
  static const Token* token(const PreparedActivations& a, int64_t t) {
    return reinterpret_cast<const Token*>(a.quantized + static_cast<size_t>(t) * a.row_bytes);
  }
  template <size_t NC>
  static void run(const uint8_t* row, const Token* const* tokens, int64_t k, float* out) {
    row_dot_q8x32<Decode, NC>(row, tokens, k / kQK32, out);
  }
};

template <typename Load>
struct FloatRowDot {
  using Token = float;
  static const Token* token(const PreparedActivations& a, int64_t t) { return a.f32 + t * a.k; }
  template <size_t NC>
  static void run(const uint8_t* row, const Token* const* tokens, int64_t k, float* out) {
    row_dot_float<Load, NC>(row, tokens, k, out);
  }
};

// Same blocked loop as the x86 kernels (row tiles x token tiles).
template <typename RowDot>
void multiply_rows_blocked(const WeightMatrix& w, const PreparedActivations& a, float* y,
                           int64_t ldy, int64_t row_begin, int64_t row_end) {
  using Token = typename RowDot::Token;
  const size_t row_bytes = w.row_bytes();
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowTile) {
    const int64_t r1 = std::min(row_end, r0 + kRowTile);
    for (int64_t t0 = 0; t0 < a.n; t0 += kTokenTile) {
      const int nc = static_cast<int>(std::min<int64_t>(kTokenTile, a.n - t0));
      const Token* tokens[kTokenTile];
      for (int c = 0; c < nc; ++c) tokens[c] = RowDot::token(a, t0 + c);
      for (int64_t r = r0; r < r1; ++r) {
        const auto* row = reinterpret_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * row_bytes;
        float out[kTokenTile];
        switch (nc) {
          case 1: RowDot::template run<1>(row, tokens, w.k, out); break;
          case 2: RowDot::template run<2>(row, tokens, w.k, out); break;
          case 3: RowDot::template run<3>(row, tokens, w.k, out); break;
          default: RowDot::template run<4>(row, tokens, w.k, out); break;
        }
        for (int c = 0; c < nc; ++c) y[(t0 + c) * ldy + r] = out[c];
      }
    }
  }
}

}  // namespace

TypeKernel neon_kernel(GgmlType type) {
  constexpr auto q8 = ActivationFormat::Q8x32;
  constexpr auto f32 = ActivationFormat::F32;
  switch (type) {
    case GgmlType::F32: return {f32, multiply_rows_blocked<FloatRowDot<LoadF32>>};
    case GgmlType::F16: return {f32, multiply_rows_blocked<FloatRowDot<LoadF16>>};
    case GgmlType::BF16: return {f32, multiply_rows_blocked<FloatRowDot<LoadBf16>>};
    case GgmlType::Q4_0: return {q8, multiply_rows_blocked<Q8x32RowDot<DecodeQ4_0>>};
    case GgmlType::Q4_1: return {q8, multiply_rows_blocked<Q8x32RowDot<DecodeQ4_1>>};
    case GgmlType::Q8_0: return {q8, multiply_rows_blocked<Q8x32RowDot<DecodeQ8_0>>};
    case GgmlType::IQ4_NL: return {q8, multiply_rows_blocked<Q8x32RowDot<DecodeIq4Nl>>};
    case GgmlType::MXFP4: return {q8, multiply_rows_blocked<Q8x32RowDot<DecodeMxfp4>>};
    default: return {};
  }
}

}  // namespace pocketllm::matmul_detail

#else
namespace pocketllm::matmul_detail {
TypeKernel neon_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
