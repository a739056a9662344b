#pragma once
// A K-quant (or IQ4_XS) super-block rewritten as integers for int8 dot
// products with a Q8_K activation block:
//   dot = d * a.d * sum_g scale[g] * sum_{i in g} q[i] * a.qs[i]
//       - dmin * a.d * sum_g min[g] * a.bsums[g]
// with 16 groups of 16 elements (formats with 32-element groups repeat each
// scale and min twice). Scalar code, included outside any target region.
#include <cstdint>
#include <cstring>

#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/scalar_types.h"

namespace pocketllm::matmul_detail {

// q: 256 quants in element order; scale/min per 16 elements.
struct KBlockInt {
  int8_t q[256];
  int16_t scale[16];
  int16_t min[16];
  float d;
  float dmin;  // 0 for formats without a min term
};

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// The 8 scales and mins of a Q4_K / Q5_K super-block (12 packed bytes), each
// to both halves (16 elements) of its 32-element group.
inline void put_k4_scale_mins(const uint8_t* packed, KBlockInt& out) {
  for (int g = 0; g < 8; ++g) {
    const ScaleMin sm = k4_scale_min(g, packed);
    out.scale[2 * g] = out.scale[2 * g + 1] = sm.scale;
    out.min[2 * g] = out.min[2 * g + 1] = sm.min;
  }
}

// IQ4_XS's 8 six-bit scales (stored + 32), each to both halves of its group.
inline void put_iq4_xs_scales(uint16_t scales_h, const uint8_t* scales_l, KBlockInt& out) {
  for (int g = 0; g < 8; ++g) {
    const int ls = ((scales_l[g / 2] >> (4 * (g % 2))) & 0xF) | (((scales_h >> (2 * g)) & 3) << 4);
    out.scale[2 * g] = out.scale[2 * g + 1] = static_cast<int16_t>(ls - 32);
  }
}

inline void decode_q2_k(const uint8_t* p, KBlockInt& out) {
  BlockQ2_K b;
  std::memcpy(&b, p, sizeof b);
  out.d = fp16_to_f32(b.d);
  out.dmin = fp16_to_f32(b.dmin);
  int8_t* q = out.q;
  for (int half = 0; half < 2; ++half) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int l = 0; l < 32; ++l) *q++ = static_cast<int8_t>((b.qs[32 * half + l] >> shift) & 3);
    }
  }
  for (int g = 0; g < 16; ++g) {
    out.scale[g] = static_cast<int16_t>(b.scales[g] & 0xF);
    out.min[g] = static_cast<int16_t>(b.scales[g] >> 4);
  }
}

inline void decode_q3_k(const uint8_t* p, KBlockInt& out) {
  BlockQ3_K b;
  std::memcpy(&b, p, sizeof b);
  out.d = fp16_to_f32(b.d);
  out.dmin = 0.0f;
  int8_t* q = out.q;
  unsigned mask = 1;
  for (int half = 0; half < 2; ++half) {
    for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
      for (int l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * half + l] >> shift) & 3;
        *q++ = static_cast<int8_t>(low - ((b.hmask[l] & mask) != 0 ? 0 : 4));
      }
    }
  }
  for (int g = 0; g < 16; ++g) {
    out.scale[g] = static_cast<int16_t>(q3k_scale(g, b.scales) - 32);
    out.min[g] = 0;
  }
}

inline void decode_q5_k(const uint8_t* p, KBlockInt& out) {
  BlockQ5_K b;
  std::memcpy(&b, p, sizeof b);
  out.d = fp16_to_f32(b.d);
  out.dmin = fp16_to_f32(b.dmin);
  for (int j = 0; j < 4; ++j) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = b.qs[32 * j + l];
      const int hi0 = (b.qh[l] >> (2 * j)) & 1;
      const int hi1 = (b.qh[l] >> (2 * j + 1)) & 1;
      out.q[64 * j + l] = static_cast<int8_t>((byte & 0xF) | (hi0 << 4));
      out.q[64 * j + 32 + l] = static_cast<int8_t>((byte >> 4) | (hi1 << 4));
    }
  }
  put_k4_scale_mins(b.scales, out);
}

inline void decode_q6_k(const uint8_t* p, KBlockInt& out) {
  BlockQ6_K b;
  std::memcpy(&b, p, sizeof b);
  out.d = fp16_to_f32(b.d);
  out.dmin = 0.0f;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    int8_t* q = out.q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < 16; ++g) {
    out.scale[g] = b.scales[g];
    out.min[g] = 0;
  }
}

inline void decode_iq4_xs(const uint8_t* p, KBlockInt& out) {
  BlockIq4Xs b;
  std::memcpy(&b, p, sizeof b);
  out.d = fp16_to_f32(b.d);
  out.dmin = 0.0f;
  for (int g = 0; g < 8; ++g) {
    const uint8_t* qs = b.qs + 16 * g;
    for (int j = 0; j < 16; ++j) {
      out.q[32 * g + j] = kIq4nlValues[qs[j] & 0xF];
      out.q[32 * g + 16 + j] = kIq4nlValues[qs[j] >> 4];
    }
    out.min[2 * g] = out.min[2 * g + 1] = 0;
  }
  put_iq4_xs_scales(b.scales_h, b.scales_l, out);
}

}  // namespace pocketllm::matmul_detail
