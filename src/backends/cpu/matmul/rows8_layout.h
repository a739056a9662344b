#pragma once
// WeightLayout::Rows8 for Q4_0: rows in groups of 8, and within a group,
// for each block index, the 8 rows' blocks interleaved (same size as the
// GGUF layout, 8 x 18 bytes):
//   uint16_t d[8];            the 8 rows' scales
//   uint8_t qs[4][8][4];      [c][row][j] = that row's qs[4c + j]
// One 256-bit load then holds 4 quant bytes of all 8 rows, so the decode
// GEMV computes 8 rows in the lanes of one vector (see rows8_dot_q4_0).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/quant/block_formats.h"

namespace pocketllm::matmul_detail {

inline constexpr int64_t kRows8 = 8;
inline constexpr size_t kRows8BlockBytes = kRows8 * sizeof(BlockQ4_0);
static_assert(kRows8BlockBytes == 144);

// Group of 8 GGUF Q4_0 rows (row r at src + r * row_bytes) <-> one Rows8 group.
inline void interleave_rows8(const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const size_t blocks = row_bytes / sizeof(BlockQ4_0);
  for (size_t i = 0; i < blocks; ++i) {
    uint8_t* out = dst + i * kRows8BlockBytes;
    for (int64_t r = 0; r < kRows8; ++r) {
      const uint8_t* block = src + static_cast<size_t>(r) * row_bytes + i * sizeof(BlockQ4_0);
      std::memcpy(out + 2 * r, block, 2);
      for (int c = 0; c < 4; ++c) std::memcpy(out + 16 + 32 * c + 4 * r, block + 2 + 4 * c, 4);
    }
  }
}

inline void deinterleave_rows8(const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const size_t blocks = row_bytes / sizeof(BlockQ4_0);
  for (size_t i = 0; i < blocks; ++i) {
    const uint8_t* in = src + i * kRows8BlockBytes;
    for (int64_t r = 0; r < kRows8; ++r) {
      uint8_t* block = dst + static_cast<size_t>(r) * row_bytes + i * sizeof(BlockQ4_0);
      std::memcpy(block, in + 2 * r, 2);
      for (int c = 0; c < 4; ++c) std::memcpy(block + 2 + 4 * c, in + 16 + 32 * c + 4 * r, 4);
    }
  }
}

}  // namespace pocketllm::matmul_detail
