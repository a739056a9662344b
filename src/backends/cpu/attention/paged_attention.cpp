#include "backends/cpu/attention/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include "backends/cpu/attention/attention_quant_vnni.h"
#include "backends/cpu/attention/attention_tile_avx2.h"
#include "backends/cpu/attention/fp16_convert.h"
#include "backends/cpu/ops/lane_sum.h"
#include "backends/cpu/ops/softmax.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm {
namespace {

using ops::exp_approx;
using ops::exp_shifted_sum;
using ops::kLanes;
using ops::max_of;
using ops::reduce_lanes;

bool force_portable_attention = false;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("paged_attention: " + what); }

// scores[j] = scale * q . k_j for the n rows of k ([n][dim]).
POCKETLLM_SIMD_CLONES void dot_rows(const float* q, const float* k, size_t n, size_t dim, float scale,
                                    float* scores) {
  for (size_t j = 0; j < n; ++j) {
    const float* kj = k + j * dim;
    float acc[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= dim; i += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) acc[l] += q[i + l] * kj[i + l];
    }
    for (size_t l = 0; i + l < dim; ++l) acc[l] += q[i + l] * kj[i + l];
    scores[j] = reduce_lanes(acc) * scale;
  }
}

// acc = acc * alpha + sum_j p_j v_j for the n rows of v ([n][dim]).
POCKETLLM_SIMD_CLONES void accumulate_rows(float* acc, float alpha, const float* p, const float* v, size_t n,
                                           size_t dim) {
  if (alpha != 1.0f) {
    for (size_t d = 0; d < dim; ++d) acc[d] *= alpha;
  }
  for (size_t j = 0; j < n; ++j) {
    const float pj = p[j];
    const float* vj = v + j * dim;
    for (size_t d = 0; d < dim; ++d) acc[d] += pj * vj[d];
  }
}

// Rows j0 .. j0 + n - 1 of a slab as f32: in place for f32, else converted
// (dequantized) into `tile`, one block's rows at most.
const float* rows_as_f32(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dim, uint32_t j0, size_t n,
                         float* tile) {
  if (layout == KvLayout::F32) return reinterpret_cast<const float*>(slab) + size_t{j0} * dim;
  kv_dequantize_rows(layout, slab, bt, static_cast<uint32_t>(dim), j0, n, tile);
  return tile;
}

// AVX2: scores[r * bt + j] = scale * q_r . k_j for the group's heads and rows
// j0 .. j0 + n - 1 of a K slab: plain rows read in place (converted in
// registers), quantized ones dequantized into the tile first.
void simd_scores(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dk, uint32_t j0, size_t n,
                 const float* q, uint32_t group_size, float scale, float* scores, AttentionScratch& scratch) {
  using attention_avx2::Rows;
  const size_t offset = size_t{j0} * dk;
  switch (layout) {
    case KvLayout::F32:
      return attention_avx2::scores(q, group_size, slab + offset * 4, Rows::F32, n, dk, scale, scores, bt);
    case KvLayout::F16:
      return attention_avx2::scores(q, group_size, slab + offset * 2, Rows::F16, n, dk, scale, scores, bt);
    case KvLayout::BF16:
      return attention_avx2::scores(q, group_size, slab + offset * 2, Rows::BF16, n, dk, scale, scores, bt);
    default: break;
  }
  const float* k = rows_as_f32(layout, slab, bt, dk, j0, n, scratch.k_tile.data());
  attention_avx2::scores(q, group_size, k, Rows::F32, n, dk, scale, scores, bt);
}

// AVX2: acc_r = alpha_r acc_r + sum_j p[r * bt + j] v_j over rows j0 ..
// j0 + n - 1 of a V slab, plain rows in place, quantized ones from the tile.
void simd_accumulate(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dv, uint32_t j0, size_t n,
                     float* acc, uint32_t group_size, const float* alpha, const float* p, AttentionScratch& scratch) {
  using attention_avx2::Rows;
  const size_t offset = size_t{j0} * dv;
  switch (layout) {
    case KvLayout::F32:
      return attention_avx2::accumulate(acc, group_size, alpha, p, bt, slab + offset * 4, Rows::F32, n, dv);
    case KvLayout::F16:
      return attention_avx2::accumulate(acc, group_size, alpha, p, bt, slab + offset * 2, Rows::F16, n, dv);
    case KvLayout::BF16:
      return attention_avx2::accumulate(acc, group_size, alpha, p, bt, slab + offset * 2, Rows::BF16, n, dv);
    default: break;
  }
  const float* v = rows_as_f32(layout, slab, bt, dv, j0, n, scratch.v_tile.data());
  attention_avx2::accumulate(acc, group_size, alpha, p, bt, v, Rows::F32, n, dv);
}

// Quantized slabs read in place with integer dot products (AVX-512 VNNI);
// false when this slab's layout has no such path.
bool vnni_scores(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dk, uint32_t j0, size_t n,
                 const float* q, uint32_t group_size, float scale, float* scores, AttentionScratch& scratch) {
  if (layout == KvLayout::Q8Key) {
    attention_vnni::scores_q8(scratch.q_int8.data(), scratch.q_int8_scale.data(), scratch.q_int8_sum128.data(),
                              group_size, dk, slab, bt, j0, n, scale, scores, bt);
    return true;
  }
  if (layout == KvLayout::Q4Channel) {
    attention_vnni::scores_q4_channel(q, group_size, dk, slab, bt, j0, n, scale, scores, bt, scratch.vnni_work.data());
    return true;
  }
  return false;
}

bool vnni_accumulate(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dv, uint32_t j0, size_t n,
                     float* acc, uint32_t group_size, const float* alpha, const float* p) {
  if (layout != KvLayout::Q8Token && layout != KvLayout::Q4Token) return false;
  for (uint32_t r = 0; r < group_size; ++r) {
    if (alpha[r] == 1.0f) continue;
    for (size_t d = 0; d < dv; ++d) acc[r * dv + d] *= alpha[r];
  }
  attention_vnni::accumulate(layout == KvLayout::Q4Token, acc, group_size, p, bt, slab, bt, dv, j0, n);
  return true;
}

void prefetch(const std::byte* p, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i);
}

}  // namespace

AttentionScratch::AttentionScratch(const AttentionParams& params, uint32_t block_tokens_)
    : group_size(params.n_kv_heads == 0 ? 0 : params.n_heads / params.n_kv_heads), block_tokens(block_tokens_) {
  scores.resize(static_cast<size_t>(group_size) * block_tokens);
  acc.resize(static_cast<size_t>(group_size) * params.head_dim_v);
  row_max.resize(group_size);
  row_sum.resize(group_size);
  alpha.resize(group_size);
  k_tile.resize(static_cast<size_t>(block_tokens) * params.head_dim_k);
  v_tile.resize(static_cast<size_t>(block_tokens) * params.head_dim_v);
  const size_t q_stride = attention_vnni::query_stride(params.head_dim_k);
  q_int8.resize(group_size * q_stride);
  q_int8_scale.resize(group_size);
  q_int8_sum128.resize(group_size);
  vnni_work.resize(2 * size_t{params.head_dim_k} + group_size * (q_stride / 4 + 2));
}

size_t AttentionScratch::bytes() const {
  const size_t floats = scores.size() + acc.size() + row_max.size() + row_sum.size() + alpha.size() + k_tile.size() +
                        v_tile.size() + q_int8_scale.size() + q_int8_sum128.size() + vnni_work.size();
  return floats * sizeof(float) + q_int8.size();
}

void set_quantized_kv_integer_attention(bool enabled) { force_portable_attention = !enabled; }

void paged_attention(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                     uint32_t pos, const float* q, float* out, AttentionScratch& scratch) {
  paged_attention_kv_heads(params, cache, layer, seq, pos, q, out, scratch, 0, params.n_kv_heads);
}

void paged_attention_kv_heads(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer,
                              SeqId seq, uint32_t pos, const float* q, float* out, AttentionScratch& scratch,
                              uint32_t kv_head_begin, uint32_t kv_head_end) {
  const uint32_t bt = cache.options().block_tokens;
  const size_t dk = params.head_dim_k;
  const size_t dv = params.head_dim_v;
  if (params.n_kv_heads == 0 || params.n_heads % params.n_kv_heads != 0) fail("n_heads must be a multiple of n_kv_heads");
  if (params.n_kv_heads != cache.n_kv_heads() || dk != cache.head_dim_k() || dv != cache.head_dim_v()) {
    fail("head shape differs from the cache's");
  }
  const uint32_t group_size = params.n_heads / params.n_kv_heads;
  if (scratch.group_size != group_size || scratch.block_tokens != bt || scratch.k_tile.size() < bt * dk ||
      scratch.v_tile.size() < bt * dv || scratch.acc.size() < group_size * dv ||
      scratch.q_int8.size() < group_size * attention_vnni::query_stride(dk)) {
    fail("scratch sized for other parameters");
  }
  const uint32_t cache_window = cache.layer_window(layer);
  if (cache_window != 0 && (params.window == 0 || params.window > cache_window)) {
    fail("layer " + std::to_string(layer) + " keeps only a window of " + std::to_string(cache_window));
  }
  if (kv_head_end > params.n_kv_heads || kv_head_begin > kv_head_end) fail("KV head range out of bounds");
  const std::span<const uint32_t> table = cache.block_table(layer, seq);
  if (pos / bt >= table.size() || pos >= cache.sequence_length(seq)) {
    fail("sequence " + std::to_string(seq) + " has no key at position " + std::to_string(pos));
  }

  // Visible keys: [first_key, pos].
  const uint32_t first_key = params.window != 0 && pos >= params.window ? pos - params.window + 1 : 0;
  const uint32_t first_block = first_key / bt;
  const uint32_t last_block = pos / bt;
  // V stored rotated (q4): the output is rotated back at the end.
  const bool v_rotated = kv_layout_is_rotated(cache.v_layout());
  const float softcap = params.softcap;
  const float inverse_cap = softcap > 0.0f ? 1.0f / softcap : 0.0f;
  // AVX2 tiles read f32/f16/bf16 rows in place (quantized ones from an f32
  // tile); other CPUs and head dims that are not multiples of 8 take the
  // portable loops over f32 tiles.
  const bool simd = attention_avx2::usable() && dk % 8 == 0 && dv % 8 == 0;
  const bool vnni = attention_vnni::usable_for(bt, dk, dv) && !force_portable_attention;

  for (uint32_t g = kv_head_begin; g < kv_head_end; ++g) {
    const uint32_t head0 = g * group_size;
    for (uint32_t r = 0; r < group_size; ++r) {
      // A sink is a key with logit sinks[h] and no value: start the running
      // softmax from it.
      const bool sink = params.sinks != nullptr;
      scratch.row_max[r] = sink ? params.sinks[head0 + r] : -std::numeric_limits<float>::infinity();
      scratch.row_sum[r] = sink ? 1.0f : 0.0f;
    }
    std::fill(scratch.acc.begin(), scratch.acc.begin() + static_cast<std::ptrdiff_t>(group_size * dv), 0.0f);
    const float* q_group = q + static_cast<size_t>(head0) * dk;
    if (vnni && cache.k_layout() == KvLayout::Q8Key) {
      attention_vnni::quantize_query(q_group, group_size, dk, scratch.q_int8.data(), scratch.q_int8_scale.data(),
                                     scratch.q_int8_sum128.data());
    }

    for (uint32_t b = first_block; b <= last_block; ++b) {
      const uint32_t block = table[b];
      if (block == PagedKvCache::kNoBlock) fail("block released while still inside the window");
      const uint32_t block_start = b * bt;
      const uint32_t j0 = (first_key > block_start ? first_key : block_start) - block_start;
      const uint32_t j1 = (pos < block_start + bt - 1 ? pos : block_start + bt - 1) - block_start;
      const size_t n = j1 - j0 + 1;
      const KvSlabs k_slabs = cache.k_slabs(layer, block);
      const KvSlabs v_slabs = cache.v_slabs(layer, block);
      const std::byte* k_slab = k_slabs.base + g * k_slabs.slab_bytes;
      const std::byte* v_slab = v_slabs.base + g * v_slabs.slab_bytes;
      if (b < last_block && table[b + 1] != PagedKvCache::kNoBlock) {
        // Blocks are scattered in the pool: start the next head slab's loads
        // now, as the hardware prefetcher does not know where it is.
        const KvSlabs k_next = cache.k_slabs(layer, table[b + 1]);
        const KvSlabs v_next = cache.v_slabs(layer, table[b + 1]);
        prefetch(k_next.base + g * k_next.slab_bytes, k_next.slab_bytes);
        prefetch(v_next.base + g * v_next.slab_bytes, v_next.slab_bytes);
      }
      if (vnni && softcap == 0.0f) {
        const attention_vnni::BlockSlabs slabs{k_slabs.layout,
                                               k_slab,
                                               v_slabs.layout,
                                               v_slab,
                                               q_group,
                                               scratch.q_int8.data(),
                                               scratch.q_int8_scale.data(),
                                               scratch.q_int8_sum128.data()};
        const attention_vnni::OnlineSoftmax state{scratch.row_max.data(), scratch.row_sum.data(), scratch.acc.data()};
        if (attention_vnni::attend_block(slabs, bt, dk, dv, j0, n, group_size, params.scale, state,
                                         scratch.vnni_work.data())) {
          continue;
        }
      }
      float* scores = scratch.scores.data();
      const bool scored =
          vnni && vnni_scores(k_slabs.layout, k_slab, bt, dk, j0, n, q_group, group_size, params.scale, scores, scratch);
      if (scored) {
        // done in place
      } else if (simd) {
        simd_scores(k_slabs.layout, k_slab, bt, dk, j0, n, q_group, group_size, params.scale, scores, scratch);
      } else {
        const float* k = rows_as_f32(k_slabs.layout, k_slab, bt, dk, j0, n, scratch.k_tile.data());
        for (uint32_t r = 0; r < group_size; ++r) dot_rows(q_group + r * dk, k, n, dk, params.scale, scores + r * bt);
      }
      for (uint32_t r = 0; r < group_size; ++r) {
        float* s = scores + static_cast<size_t>(r) * bt;
        if (softcap > 0.0f) {
          for (size_t j = 0; j < n; ++j) s[j] = softcap * std::tanh(s[j] * inverse_cap);
        }
        const float block_max = max_of(s, n);
        scratch.alpha[r] = 1.0f;
        if (block_max > scratch.row_max[r]) {
          scratch.alpha[r] = exp_approx(scratch.row_max[r] - block_max);
          scratch.row_max[r] = block_max;
          scratch.row_sum[r] *= scratch.alpha[r];
        }
        scratch.row_sum[r] += exp_shifted_sum(s, n, scratch.row_max[r]);
      }
      const bool accumulated = vnni && vnni_accumulate(v_slabs.layout, v_slab, bt, dv, j0, n, scratch.acc.data(),
                                                       group_size, scratch.alpha.data(), scores);
      if (accumulated) {
        // done in place
      } else if (simd) {
        simd_accumulate(v_slabs.layout, v_slab, bt, dv, j0, n, scratch.acc.data(), group_size, scratch.alpha.data(),
                        scores, scratch);
      } else {
        const float* v = rows_as_f32(v_slabs.layout, v_slab, bt, dv, j0, n, scratch.v_tile.data());
        for (uint32_t r = 0; r < group_size; ++r) {
          accumulate_rows(scratch.acc.data() + r * dv, scratch.alpha[r], scores + r * bt, v, n, dv);
        }
      }
    }

    for (uint32_t r = 0; r < group_size; ++r) {
      const float inverse_sum = 1.0f / scratch.row_sum[r];
      const float* a = scratch.acc.data() + r * dv;
      float* o = out + (head0 + r) * dv;
      for (size_t d = 0; d < dv; ++d) o[d] = a[d] * inverse_sum;
      if (v_rotated) kv_hadamard(o, static_cast<uint32_t>(dv));
    }
  }
}

}  // namespace pocketllm
