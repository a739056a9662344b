#pragma once
// AVX-512 VNNI inner loops of paged attention over quantized K/V slabs
// (kv/kv_quant_formats.h), read in place with integer dot products:
//
//   scores  the query heads are quantized to int8 (per head scale; for q4 K
//           after multiplying in the block's channel scales), and vpdpbusd
//           multiplies 4 channels of 16 keys at a time (Q8Key / Q4Channel
//           interleave channels by fours, keys inside), so each lane is one
//           key's score: no horizontal sums.
//   values  each head's softmax weights of 16 keys, times the keys' row
//           scales, are quantized to u8 over the tile (scale: their max /
//           255) and vpdpbusd multiplies them with 4 keys of 16 dims at a
//           time (Q8Token / Q4Token interleave keys by fours).
//
// The f32 float FMAs these replace are 4x slower per value on the CPUs that
// have VNNI, so quantized KV reads less memory and computes less than f16.
// The rounding of the query (int8, 1/254 of its largest value) and of the
// weights (u8, 1/510 of a tile's largest) is below the KV quantization's own
// error; tests/unit/test_paged_attention.cpp bounds it against f64.
//
// Shapes: block_tokens and both head dims multiples of 16 (usable_for);
// others take the portable path.
#include <cstddef>
#include <cstdint>

#include "kv/kv_quant_formats.h"

namespace pocketllm::attention_vnni {

// AVX-512 F/BW/VL + VNNI on this CPU.
bool usable();
bool usable_for(uint32_t block_tokens, size_t dk, size_t dv);

// Bytes of int8 query per head: dk rounded up to 8 (Q4Channel reads 8
// channels at a time).
inline size_t query_stride(size_t dk) { return (dk + 7) / 8 * 8; }

// Quantizes n_heads query heads q [n_heads][dk] to out [n_heads][stride]
// (padding zeroed), scale[r] = max|q_r| / 127 and sum128[r] = 128 * sum of
// the int8 values (what Q8Key's unsigned reading adds).
void quantize_query(const float* q, uint32_t n_heads, size_t dk, int8_t* out, float* scale, int32_t* sum128);

// scores[r * stride + j - j0] = scale * q_r . k_j for keys j0 .. j0 + n - 1 of
// a Q8Key slab, from quantize_query's output.
void scores_q8(const int8_t* q, const float* q_scale, const int32_t* q_sum128, uint32_t n_heads, size_t dk,
               const std::byte* slab, uint32_t block_tokens, uint32_t j0, size_t n, float scale, float* scores,
               size_t scores_stride);

// The same for a Q4Channel slab from the f32 query heads; `work` holds at
// least n_heads * (query_stride(dk) / 4 + 2) + 2 * dk floats.
void scores_q4_channel(const float* q, uint32_t n_heads, size_t dk, const std::byte* slab, uint32_t block_tokens,
                       uint32_t j0, size_t n, float scale, float* scores, size_t scores_stride, float* work);

// acc_r += sum_j p[r * p_stride + j - j0] v_j over keys j0 .. j0 + n - 1 of a
// Q8Token (q4 = false) or Q4Token slab (rows as stored: Q4Token's rotated).
void accumulate(bool q4, float* acc, uint32_t n_heads, const float* p, size_t p_stride, const std::byte* slab,
                uint32_t block_tokens, size_t dv, uint32_t j0, size_t n);

// One block's slabs of one KV head, and its query heads: f32 (q4 K) and as
// quantize_query made them (q8 K).
struct BlockSlabs {
  KvLayout k_layout;
  const std::byte* k_slab;
  KvLayout v_layout;
  const std::byte* v_slab;
  const float* q;
  const int8_t* q_int8;
  const float* q_int8_scale;
  const int32_t* q_int8_sum128;
};

// The heads' running softmax (FlashAttention's online form): max and sum of
// e^(score - max) so far, and the unnormalized outputs [n_heads][dv].
struct OnlineSoftmax {
  float* row_max;
  float* row_sum;
  float* acc;
};

// Keys j0 .. j0 + n - 1 of one block in one pass over its 16-key tiles:
// scores, the online softmax update and the weighted sum of V, without
// writing scores or weights to memory. Only for K in Q8Key / Q4Channel and V
// in Q8Token / Q4Token (false, nothing done, otherwise) and no soft-cap;
// `work` as for scores_q4_channel.
bool attend_block(const BlockSlabs& slabs, uint32_t block_tokens, size_t dk, size_t dv, uint32_t j0, size_t n,
                  uint32_t n_heads, float scale, OnlineSoftmax state, float* work);

}  // namespace pocketllm::attention_vnni
