#pragma once
// The run-time shapes of the attention tiles (attention_tile_avx2,
// attention_tile_avx512) to their templates: the K/V row type, and the query
// heads in groups of 4 with the 1 to 3 left over. Tiles provides
//   template <size_t H, Rows R> static void scores(q, k, n, dk, scale, out, stride);
//   template <size_t H, Rows R> static void accumulate(acc, alpha, p, p_stride, v, n, dv);
// for H heads side by side (H <= 4).
#include <cstddef>
#include <cstdint>

#include "backends/cpu/attention/attention_tile_avx2.h"

namespace pocketllm::attention_tiles {

using attention_avx2::Rows;

template <typename Tiles, Rows R>
void scores_in_groups(const float* q, uint32_t n_heads, const void* k, size_t n, size_t dk, float scale, float* out,
                      size_t stride) {
  uint32_t r = 0;
  for (; r + 4 <= n_heads; r += 4) Tiles::template scores<4, R>(q + r * dk, k, n, dk, scale, out + r * stride, stride);
  switch (n_heads - r) {
    case 3: return Tiles::template scores<3, R>(q + r * dk, k, n, dk, scale, out + r * stride, stride);
    case 2: return Tiles::template scores<2, R>(q + r * dk, k, n, dk, scale, out + r * stride, stride);
    case 1: return Tiles::template scores<1, R>(q + r * dk, k, n, dk, scale, out + r * stride, stride);
    default: return;
  }
}

template <typename Tiles, Rows R>
void accumulate_in_groups(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride,
                          const void* v, size_t n, size_t dv) {
  uint32_t r = 0;
  for (; r + 4 <= n_heads; r += 4) {
    Tiles::template accumulate<4, R>(acc + r * dv, alpha + r, p + r * p_stride, p_stride, v, n, dv);
  }
  switch (n_heads - r) {
    case 3: return Tiles::template accumulate<3, R>(acc + r * dv, alpha + r, p + r * p_stride, p_stride, v, n, dv);
    case 2: return Tiles::template accumulate<2, R>(acc + r * dv, alpha + r, p + r * p_stride, p_stride, v, n, dv);
    case 1: return Tiles::template accumulate<1, R>(acc + r * dv, alpha + r, p + r * p_stride, p_stride, v, n, dv);
    default: return;
  }
}

template <typename Tiles>
void scores(const float* q, uint32_t n_heads, const void* k, Rows k_rows, size_t n, size_t dk, float scale,
            float* out, size_t stride) {
  switch (k_rows) {
    case Rows::F32: return scores_in_groups<Tiles, Rows::F32>(q, n_heads, k, n, dk, scale, out, stride);
    case Rows::F16: return scores_in_groups<Tiles, Rows::F16>(q, n_heads, k, n, dk, scale, out, stride);
    case Rows::BF16: return scores_in_groups<Tiles, Rows::BF16>(q, n_heads, k, n, dk, scale, out, stride);
  }
}

template <typename Tiles>
void accumulate(float* acc, uint32_t n_heads, const float* alpha, const float* p, size_t p_stride, const void* v,
                Rows v_rows, size_t n, size_t dv) {
  switch (v_rows) {
    case Rows::F32: return accumulate_in_groups<Tiles, Rows::F32>(acc, n_heads, alpha, p, p_stride, v, n, dv);
    case Rows::F16: return accumulate_in_groups<Tiles, Rows::F16>(acc, n_heads, alpha, p, p_stride, v, n, dv);
    case Rows::BF16: return accumulate_in_groups<Tiles, Rows::BF16>(acc, n_heads, alpha, p, p_stride, v, n, dv);
  }
}

}  // namespace pocketllm::attention_tiles
