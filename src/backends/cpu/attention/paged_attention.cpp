#include "backends/cpu/attention/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include "backends/cpu/attention/attention_tile_avx2.h"
#include "backends/cpu/attention/fp16_convert.h"
#include "backends/cpu/ops/lane_sum.h"
#include "backends/cpu/ops/vec_math.h"

namespace pocketllm {
namespace {

using ops::exp_approx;
using ops::kLanes;
using ops::reduce_lanes;

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

POCKETLLM_SIMD_CLONES float max_of(const float* x, size_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j) m = m < x[j] ? x[j] : m;
  return m;
}

// x_j = e^(x_j - m); returns the sum.
POCKETLLM_SIMD_CLONES float exp_shifted_sum(float* x, size_t n, float m) {
  float sum = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    x[j] = exp_approx(x[j] - m);
    sum += x[j];
  }
  return sum;
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

// n rows of `dim` values of `dtype` at `src` as f32: in place for f32, else
// converted into `tile`.
const float* rows_as_f32(KvDtype dtype, const void* src, size_t n, size_t dim, float* tile) {
  if (dtype == KvDtype::F32) return static_cast<const float*>(src);
  f16_to_f32_row(static_cast<const uint16_t*>(src), tile, n * dim);
  return tile;
}

const std::byte* offset_bytes(const void* base, size_t bytes) { return static_cast<const std::byte*>(base) + bytes; }

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
}

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
      scratch.v_tile.size() < bt * dv || scratch.acc.size() < group_size * dv) {
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
  const KvDtype k_dtype = cache.options().k_dtype;
  const KvDtype v_dtype = cache.options().v_dtype;
  const size_t k_elem = kv_dtype_bytes(k_dtype);
  const size_t v_elem = kv_dtype_bytes(v_dtype);
  const float softcap = params.softcap;
  const float inverse_cap = softcap > 0.0f ? 1.0f / softcap : 0.0f;
  // AVX2 tiles read f32/f16 rows in place; other CPUs and head dims that are
  // not multiples of 8 take the portable loops over f32 tiles.
  const bool simd = attention_avx2::usable() && dk % 8 == 0 && dv % 8 == 0;

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

    for (uint32_t b = first_block; b <= last_block; ++b) {
      const uint32_t block = table[b];
      if (block == PagedKvCache::kNoBlock) fail("block released while still inside the window");
      const uint32_t block_start = b * bt;
      const uint32_t j0 = (first_key > block_start ? first_key : block_start) - block_start;
      const uint32_t j1 = (pos < block_start + bt - 1 ? pos : block_start + bt - 1) - block_start;
      const size_t n = j1 - j0 + 1;
      const size_t row = static_cast<size_t>(g) * bt + j0;
      const void* k_rows = offset_bytes(cache.k_block(layer, block), row * dk * k_elem);
      const void* v_rows = offset_bytes(cache.v_block(layer, block), row * dv * v_elem);
      if (b < last_block && table[b + 1] != PagedKvCache::kNoBlock) {
        // Blocks are scattered in the pool: start the next head slab's loads
        // now, as the hardware prefetcher does not know where it is.
        const size_t slab = static_cast<size_t>(g) * bt;
        prefetch(offset_bytes(cache.k_block(layer, table[b + 1]), slab * dk * k_elem), bt * dk * k_elem);
        prefetch(offset_bytes(cache.v_block(layer, table[b + 1]), slab * dv * v_elem), bt * dv * v_elem);
      }
      const float* q_group = q + static_cast<size_t>(head0) * dk;
      float* scores = scratch.scores.data();
      if (simd) {
        attention_avx2::scores(q_group, group_size, k_rows, k_dtype == KvDtype::F16, n, dk, params.scale, scores,
                               bt);
      } else {
        const float* k = rows_as_f32(k_dtype, k_rows, n, dk, scratch.k_tile.data());
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
      if (simd) {
        attention_avx2::accumulate(scratch.acc.data(), group_size, scratch.alpha.data(), scores, bt, v_rows,
                                   v_dtype == KvDtype::F16, n, dv);
      } else {
        const float* v = rows_as_f32(v_dtype, v_rows, n, dv, scratch.v_tile.data());
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
    }
  }
}

}  // namespace pocketllm
