#pragma once
// WeightLayout::Rows8: rows in groups of 8, and within a group, for each
// block index, the 8 rows' blocks rewritten as one group block of the same
// size (8 x the GGUF block, so the repack is size-neutral), such that one
// 256-bit load holds 4 quant bytes of each of the 8 rows and the decode GEMV
// computes 8 rows in the lanes of one vector (matmul_x86_rows8*.inc).
//
// 32-element formats (Q4_0, Q8_0, IQ4_NL, MXFP4): a GGUF block is a header
// (its scale: 2 bytes, 1 for MXFP4) and Q quant bytes (16, 32 for Q8_0):
//   header[8]          the 8 rows' headers
//   qs[Q / 4][8][4]    [c][row][j] = that row's qs[4c + j]
// Q4_K (256-element super-blocks, 8 x 144 bytes):
//   uint16_t d[8], dmin[8]
//   uint8_t low[2][32]     low 4 bits of the 128 six-bit scales and mins v[]
//   uint8_t high[32]       their top 2 bits
//   uint8_t qs[4][8][8][4] [i][c][row][j] = that row's qs[32i + 4c + j]
// Q5_K (8 x 176 bytes): Q4_K's group block with, before qs (read first),
//   uint8_t qh[8][8][4]    [c][row][j] = that row's qh[4c + j]
// Q6_K (8 x 210 bytes), all bytes moved whole, in the order the kernel reads:
//   uint16_t d[8]
//   int8_t scales[16][8]   [g][row]: one load and widen give group g's 8 scales
//   uint8_t q[2][2][3][4][8][4] [h][half][s][c][row][j] = that row's
//     ql[64h + 32s + 16 half + 4c + j] (s = 0, 1) or qh[32h + 16 half + 4c + j] (s = 2)
// In Q4_K and Q5_K, v[8g + row] is the scale of group g (32 elements) of that row and
// v[64 + 16h + 2 row + j] the min of its group 2h + j, and v[32q + b] keeps
// its low bits in the (q / 2 ? high : low) nibble of low[q % 2][b] and its
// top bits in bits 2q, 2q + 1 of high[b]: a few vector ops restore the 128
// values as bytes, scales as [g][row] and mins as [h][row][j] pairs.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/quant/block_formats.h"
#include "formats/ggml_types.h"

namespace pocketllm::matmul_detail {

inline constexpr int64_t kRows8 = 8;

// Whether `type` has a Rows8 arrangement (the ISA may still lack its kernel).
inline bool has_rows8_layout(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: case GgmlType::MXFP4:
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default: return false;
  }
}

namespace rows8 {

// Calls piece(block_offset, group_offset, bytes) for each run of bytes that
// row r's GGUF block of `type` (`block` bytes) moves to unchanged in its group
// block (all of it but Q4_K's and Q5_K's scales and mins).
template <typename Piece>
void for_each_piece(GgmlType type, size_t block, int64_t r, Piece piece) {
  const auto row = static_cast<size_t>(r);
  if (type == GgmlType::Q4_K || type == GgmlType::Q5_K) {
    const bool q5 = type == GgmlType::Q5_K;
    const size_t qs = q5 ? offsetof(BlockQ5_K, qs) : offsetof(BlockQ4_K, qs);
    const size_t qs_to = q5 ? 384 : 128;
    piece(0, 2 * row, 2);       // d
    piece(2, 16 + 2 * row, 2);  // dmin
    for (size_t i = 0; i < 4; ++i) {
      for (size_t c = 0; c < 8; ++c) piece(qs + 32 * i + 4 * c, qs_to + 256 * i + 32 * c + 4 * row, 4);
    }
    if (q5) {
      for (size_t c = 0; c < 8; ++c) piece(offsetof(BlockQ5_K, qh) + 4 * c, 128 + 32 * c + 4 * row, 4);
    }
    return;
  }
  if (type == GgmlType::Q6_K) {
    piece(offsetof(BlockQ6_K, d), 2 * row, 2);
    for (size_t g = 0; g < 16; ++g) piece(offsetof(BlockQ6_K, scales) + g, 16 + 8 * g + row, 1);
    for (size_t h = 0; h < 2; ++h) {
      for (size_t c = 0; c < 8; ++c) {  // 4 bytes at 4c of each 32 (half = c / 4)
        const size_t at = 144 + 384 * (2 * h + c / 4) + 32 * (c % 4) + 4 * row;
        piece(64 * h + 4 * c, at, 4);
        piece(64 * h + 32 + 4 * c, at + 128, 4);
        piece(offsetof(BlockQ6_K, qh) + 32 * h + 4 * c, at + 256, 4);
      }
    }
    return;
  }
  const size_t quants = type == GgmlType::Q8_0 ? 32 : 16;
  const size_t header = block - quants;
  piece(0, header * row, header);
  for (size_t c = 0; c < quants / 4; ++c) piece(header + 4 * c, size_t{kRows8} * header + 32 * c + 4 * row, 4);
}

// Q4_K's six-bit value v of a group block (see the header comment).
inline size_t q4k_low(int v) { return 32 + 32 * static_cast<size_t>((v / 32) % 2) + static_cast<size_t>(v % 32); }
inline size_t q4k_high(int v) { return 96 + static_cast<size_t>(v % 32); }
inline int q4k_scale_index(int g, int64_t r) { return 8 * g + static_cast<int>(r); }
inline int q4k_min_index(int g, int64_t r) { return 64 + 16 * (g / 2) + 2 * static_cast<int>(r) + g % 2; }

inline void q4k_put(uint8_t* group, int v, uint8_t value) {
  const int q = v / 32;
  group[q4k_low(v)] |= static_cast<uint8_t>((value & 0xF) << (q / 2 * 4));
  group[q4k_high(v)] |= static_cast<uint8_t>((value >> 4) << (2 * q));
}

inline uint8_t q4k_get(const uint8_t* group, int v) {
  const int q = v / 32;
  return static_cast<uint8_t>(((group[q4k_low(v)] >> (q / 2 * 4)) & 0xF) |
                              (((group[q4k_high(v)] >> (2 * q)) & 3) << 4));
}

// Row r's 12 packed bytes (BlockQ4_K::scales, k4_scale_min) <-> its values in the group block.
inline void put_q4k_scales(const uint8_t* packed, int64_t r, uint8_t* group) {
  for (int g = 0; g < 8; ++g) {
    const ScaleMin sm = k4_scale_min(g, packed);
    q4k_put(group, q4k_scale_index(g, r), sm.scale);
    q4k_put(group, q4k_min_index(g, r), sm.min);
  }
}

inline void get_q4k_scales(const uint8_t* group, int64_t r, uint8_t* packed) {
  // The inverse of k4_scale_min: its 16 six-bit fields fill the 12 bytes.
  std::memset(packed, 0, 12);
  for (int g = 0; g < 8; ++g) {
    const uint8_t scale = q4k_get(group, q4k_scale_index(g, r));
    const uint8_t min = q4k_get(group, q4k_min_index(g, r));
    if (g < 4) {
      packed[g] |= scale;
      packed[g + 4] |= min;
    } else {
      packed[g + 4] = static_cast<uint8_t>((scale & 0xF) | (min & 0xF) << 4);
      packed[g - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
      packed[g] |= static_cast<uint8_t>((min >> 4) << 6);
    }
  }
}

}  // namespace rows8

// 8 GGUF rows of `type` (has_rows8_layout) at src, row r at src + r * row_bytes
// -> one Rows8 group of 8 * row_bytes at dst.
inline void interleave_rows8(GgmlType type, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const size_t block = ggml_type_traits(type).type_size;
  for (size_t i = 0; i < row_bytes / block; ++i) {
    uint8_t* out = dst + i * size_t{kRows8} * block;
    const bool k4_scales = type == GgmlType::Q4_K || type == GgmlType::Q5_K;  // at byte 4 of both
    if (k4_scales) std::memset(out + 32, 0, 96);  // put_q4k_scales ORs the bits in
    for (int64_t r = 0; r < kRows8; ++r) {
      const uint8_t* in = src + static_cast<size_t>(r) * row_bytes + i * block;
      rows8::for_each_piece(type, block, r, [&](size_t from, size_t to, size_t n) { std::memcpy(out + to, in + from, n); });
      if (k4_scales) rows8::put_q4k_scales(in + 4, r, out);
    }
  }
}

// The inverse: one Rows8 group at src -> 8 GGUF rows at dst.
inline void deinterleave_rows8(GgmlType type, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const size_t block = ggml_type_traits(type).type_size;
  for (size_t i = 0; i < row_bytes / block; ++i) {
    const uint8_t* in = src + i * size_t{kRows8} * block;
    for (int64_t r = 0; r < kRows8; ++r) {
      uint8_t* out = dst + static_cast<size_t>(r) * row_bytes + i * block;
      rows8::for_each_piece(type, block, r, [&](size_t to, size_t from, size_t n) { std::memcpy(out + to, in + from, n); });
      if (type == GgmlType::Q4_K || type == GgmlType::Q5_K) rows8::get_q4k_scales(in, r, out + 4);
    }
  }
}

}  // namespace pocketllm::matmul_detail
