#pragma once
// The block layouts of ggml's weight types, as they lie in a GGUF file
// (facts from ggml-common.h and ggml-quants.c, restated). A row of `k`
// elements is k / block_size consecutive blocks; all fields little-endian;
// `uint16_t` d/dmin fields are IEEE binary16. Every struct has alignment 1
// or 2 and no padding, so the mmap'd bytes are read in place.
#include <cstdint>

#include "formats/ggml_types.h"

namespace pocketllm {

inline constexpr int kQK32 = 32;   // elements per block of the "_0/_1" and 32-element types
inline constexpr int kQKK = 256;   // elements per K-quant super-block

// Q4_0: x[j] = (nibble_j - 8) * d. Element j < 16 is the low nibble of
// qs[j], element j + 16 its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// Q4_1: x[j] = nibble_j * d + m (nibble order as Q4_0).
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// Q5_0: x[j] = (q_j - 16) * d with q_j = nibble_j | (bit j of qh) << 4;
// qh is a little-endian u32 whose bit j is the fifth bit of element j.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q5_1: x[j] = q_j * d + m (q_j as Q5_0).
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q8_0: x[j] = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// IQ4_NL: x[j] = kIq4nlValues[nibble_j] * d (nibble order as Q4_0).
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[16];
};

// MXFP4 (OCP microscaling FP4): 32 e2m1 values sharing an E8M0 scale.
// x[j] = kMxfp4Values[nibble_j] * 2^(e-128) (the table holds doubled e2m1
// values, hence the halved scale); nibble order as Q4_0.
struct BlockMxfp4 {
  uint8_t e;
  uint8_t qs[16];
};

// Q2_K: 16 groups of 16. scales[g] = (4-bit min << 4) | 4-bit scale.
// x = d * scale_g * q - dmin * min_g, q in 0..3. Element order: for each
// half h (128 elements, qs[32h .. 32h+31]) and shift s = 0, 2, 4, 6 in turn,
// 32 elements take bits s..s+1 of those 32 bytes; group g covers 16 of them
// (g = 8h + 2*(s/2) + (0 for bytes 0..15, 1 for bytes 16..31)).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K: 16 groups of 16 with 6-bit signed scales (stored + 32).
// q = (2 low bits from qs, order as Q2_K) - (hmask bit clear ? 4 : 0), so
// q in -4..3; x = d * (scale_g - 32) * q. The high bit of element
// 128h + 32*(s/2) + l (l < 32) is bit (4h + s/2) of hmask[l].
// scale_g: low 4 bits from scales[g] (g < 8) or scales[g-8] >> 4 (g >= 8);
// high 2 bits are bits 2*(g/4) .. 2*(g/4)+1 of scales[8 + g%4].
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K: 8 groups of 32 with 6-bit scale sc_g and 6-bit min m_g packed in 12
// bytes (see k4_scale_min). x = d * sc_g * q - dmin * m_g, q a nibble.
// Elements 64i .. 64i+31 are the low nibbles of qs[32i .. 32i+31] (group 2i),
// elements 64i+32 .. 64i+63 their high nibbles (group 2i+1).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// Q5_K: Q4_K plus a fifth bit: element 64i + l (l < 32) adds 16 if bit 2i
// of qh[l] is set, element 64i + 32 + l if bit 2i+1 is set.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// Q6_K: 16 groups of 16 with int8 scales; q = 6-bit value - 32,
// x = d * scales[g] * q. For half h (ql += 64h, qh += 32h) and l < 32:
//   element 128h + l      = ql[l] low nibble    | (qh[l] bits 0-1) << 4
//   element 128h + l + 32 = ql[l+32] low nibble | (qh[l] bits 2-3) << 4
//   element 128h + l + 64 = ql[l] high nibble   | (qh[l] bits 4-5) << 4
//   element 128h + l + 96 = ql[l+32] high nibble| (qh[l] bits 6-7) << 4
// and group g = element / 16.
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// IQ4_XS: 8 groups of 32 with 6-bit scales (stored + 32):
// ls_g = (scales_l[g/2] >> 4*(g%2)) & 15 | ((scales_h >> 2g) & 3) << 4,
// x = d * (ls_g - 32) * kIq4nlValues[nibble]; each group's 16 qs bytes are
// laid out like one IQ4_NL block.
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

// Q8_K: the activation side of K-quant dot products (f32 scale, and the sum
// of each 16 quants so that a weight "min" term needs no second pass).
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// The non-linear 4-bit codebook of IQ4_NL / IQ4_XS.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// FP4 e2m1 values doubled to integers: codes 0..7 are 0, .5, 1, 1.5, 2, 3, 4, 6
// and bit 3 is the sign.
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Q4_K / Q5_K: 6-bit scale and min of group j (0..7) from the 12 packed bytes.
// Groups 0..3: low 6 bits of bytes j (scale) and j+4 (min). Groups 4..7: low
// nibble (scale) / high nibble (min) of byte j+4, with the top two bits taken
// from bits 6-7 of bytes j-4 (scale) and j (min).
struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};
constexpr ScaleMin k4_scale_min(int j, const uint8_t* q) {
  if (j < 4) {
    return {static_cast<uint8_t>(q[j] & 63), static_cast<uint8_t>(q[j + 4] & 63)};
  }
  return {static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4))};
}

// Q3_K: the 6-bit scale of group g (0..15), still biased by 32.
constexpr int q3k_scale(int g, const uint8_t* scales) {
  const int low = g < 8 ? (scales[g] & 0xF) : (scales[g - 8] >> 4);
  const int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return low | (high << 4);
}

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockIq4Nl) == 18 &&
              sizeof(BlockMxfp4) == 17);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockIq4Xs) == 136 &&
              sizeof(BlockQ8_K) == 292);

}  // namespace pocketllm
