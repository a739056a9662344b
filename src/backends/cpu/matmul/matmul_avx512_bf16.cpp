// BF16 weights on AVX512-BF16 (MatmulIsa::Avx512Bf16): vdpbf16ps multiplies
// 32 bf16 pairs and adds them into 16 f32 lanes. Each activation comes split
// in two bf16, x = hi + lo to within 2^-16 |x| (ActivationFormat::Bf16), so
// that the product stays as close to f32 as the f32 kernels; each product of
// two bf16 values is exact in f32, only the f32 sums round.
//
// Weights are read in place (zero copy). A tile is RM rows x NT tokens: per
// 32 elements, RM + 2 * NT vector loads feed 2 * RM * NT vdpbf16ps (the
// weights times hi, then times lo), each into the accumulator of its row and
// token (16 partial sums), which hides the instruction's latency; a
// horizontal sum ends each output. Every output is the same chain of
// instructions whatever the tile, row range, batch size or k slicing, so any
// thread split and any batch give the same bits.
//
// Loops: 32-row chunks (whose weights stay in L2 while every token tile
// passes), token tiles, then, for batches of more than one tile, slices of
// k small enough that the token tile's slice stays in L1 while all the
// chunk's rows pass; the accumulators wait in a buffer between slices.
#include "backends/cpu/matmul/matmul_kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#define POCKETLLM_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"
#include "backends/cpu/target_begin.inc"

namespace pocketllm::matmul_detail {
namespace {

constexpr int64_t kLanes = 32;         // bf16 elements per vector
constexpr int64_t kChunkRows = 40;     // rows whose weights stay in L2 (8 tiles of 5)
constexpr int64_t kSlice = 2048;       // elements of k per pass (a 4-token slice, hi and lo: 32 KiB)
constexpr size_t kMaxTileRows = 8;
constexpr size_t kMaxTileTokens = 4;
static_assert(kLanes == kBf16SplitLanes);

inline __m512bh load_bf16(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)); }
inline __m512bh load_bf16(const uint16_t* p, __mmask32 mask) {
  return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, p));
}

// acc[r][t] += the products of w[r] and x[t] over elements [i0, i1) (i0 a
// multiple of 32); x[t] is a split row (hi and lo of each 32 elements, zeros
// past k), the last partial vector of weights is loaded with a mask.
template <size_t RM, size_t NT>
inline void bf16_tile(const uint16_t* const* w, const uint16_t* const* x, int64_t i0, int64_t i1,
                      __m512 (*acc_io)[kMaxTileTokens]) {
  __m512 acc[RM][NT];
  for (size_t r = 0; r < RM; ++r) {
    for (size_t t = 0; t < NT; ++t) acc[r][t] = acc_io[r][t];
  }
  int64_t i = i0;
  // Weights under `mask` (a register operand either way: each feeds 2 * NT products).
  const auto step = [&](int64_t at, __mmask32 mask) {
    __m512bh hi[NT], lo[NT];
    for (size_t t = 0; t < NT; ++t) {
      hi[t] = load_bf16(x[t] + 2 * at);
      lo[t] = load_bf16(x[t] + 2 * at + kLanes);
    }
    for (size_t r = 0; r < RM; ++r) {
      const __m512bh wv = load_bf16(w[r] + at, mask);
      for (size_t t = 0; t < NT; ++t) {
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv, hi[t]);
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv, lo[t]);
      }
    }
  };
  for (; i + kLanes <= i1; i += kLanes) step(i, ~__mmask32{0});
  if (i < i1) step(i, static_cast<__mmask32>((uint64_t{1} << (i1 - i)) - 1));
  for (size_t r = 0; r < RM; ++r) {
    for (size_t t = 0; t < NT; ++t) acc_io[r][t] = acc[r][t];
  }
}

// Rows [r0, r1) (at most kChunkRows) against the NT tokens x, into
// y[t * ldy + r]. Rows past r1 in the last row tile repeat row r1 - 1 (their
// sums are dropped).
template <size_t RM, size_t NT>
void bf16_chunk(const uint16_t* weights, int64_t k, int64_t r0, int64_t r1, const uint16_t* const* x,
                int64_t slice, float* y, int64_t ldy) {
  alignas(64) __m512 acc[kChunkRows + kMaxTileRows][kMaxTileTokens];
  for (int64_t r = 0; r < r1 - r0 + static_cast<int64_t>(RM) - 1; ++r) {
    for (size_t t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  for (int64_t i0 = 0; i0 < k; i0 += slice) {
    const int64_t i1 = std::min(k, i0 + slice);
    for (int64_t r = r0; r < r1; r += static_cast<int64_t>(RM)) {
      const uint16_t* w[RM];
      for (size_t j = 0; j < RM; ++j) w[j] = weights + std::min(r + static_cast<int64_t>(j), r1 - 1) * k;
      bf16_tile<RM, NT>(w, x, i0, i1, acc + (r - r0));
    }
  }
  for (size_t t = 0; t < NT; ++t) {
    for (int64_t r = r0; r < r1; ++r) y[static_cast<int64_t>(t) * ldy + r] = _mm512_reduce_add_ps(acc[r - r0][t]);
  }
}

// Rows per tile for NT tokens: RM * NT accumulators + 2 * NT activation
// operands + 1 weight operand fit the 32 vector registers (4 tokens: 5 rows;
// 5-10% more GFLOP/s than 3 x 8 at batch 64 and 512).
template <size_t NT>
constexpr size_t kTileRows = std::min(kMaxTileRows, (31 - 2 * NT) / NT);

template <size_t NT>
void bf16_chunk_for(const uint16_t* weights, int64_t k, int64_t r0, int64_t r1, const uint16_t* const* x,
                    int64_t slice, float* y, int64_t ldy) {
  bf16_chunk<kTileRows<NT>, NT>(weights, k, r0, r1, x, slice, y, ldy);
}

void multiply_rows_bf16(const WeightMatrix& w, const PreparedActivations& a, float* y, int64_t ldy,
                        int64_t row_begin, int64_t row_end) {
  const auto* weights = reinterpret_cast<const uint16_t*>(w.data);
  const auto* act = reinterpret_cast<const uint16_t*>(a.quantized);
  const int64_t k = a.k;
  const auto row = static_cast<int64_t>(a.row_bytes / sizeof(uint16_t));  // a split row
  const auto tile_tokens = static_cast<int64_t>(kMaxTileTokens);
  // One token tile: the tokens are tiny, and whole rows stream best from memory.
  const int64_t slice = a.n <= tile_tokens ? k : kSlice;
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kChunkRows) {
    const int64_t r1 = std::min(row_end, r0 + kChunkRows);
    for (int64_t t0 = 0; t0 < a.n; t0 += tile_tokens) {
      const auto nt = static_cast<size_t>(std::min(tile_tokens, a.n - t0));
      const uint16_t* x[kMaxTileTokens];
      for (size_t t = 0; t < nt; ++t) x[t] = act + (t0 + static_cast<int64_t>(t)) * row;
      float* yt = y + t0 * ldy;
      switch (nt) {
        case 1: bf16_chunk_for<1>(weights, k, r0, r1, x, slice, yt, ldy); break;
        case 2: bf16_chunk_for<2>(weights, k, r0, r1, x, slice, yt, ldy); break;
        case 3: bf16_chunk_for<3>(weights, k, r0, r1, x, slice, yt, ldy); break;
        default: bf16_chunk_for<4>(weights, k, r0, r1, x, slice, yt, ldy); break;
      }
    }
  }
}

}  // namespace

TypeKernel avx512_bf16_kernel(GgmlType type) {
  if (type != GgmlType::BF16) return avx512_kernel(type);
  return {ActivationFormat::Bf16, multiply_rows_bf16};
}

}  // namespace pocketllm::matmul_detail

#include "backends/cpu/target_end.inc"

#else
namespace pocketllm::matmul_detail {
TypeKernel avx512_bf16_kernel(GgmlType) { return {}; }
}  // namespace pocketllm::matmul_detail
#endif
