#include "backends/cpu/attention/paged_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "backends/cpu/attention/attention_quant_vnni.h"
#include "backends/cpu/attention/attention_tile_avx2.h"
#include "backends/cpu/attention/attention_tile_avx512.h"
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

// Set by tests between runs; atomic because attention threads read it.
std::atomic<bool> force_portable_attention{false};
std::atomic<bool> force_256_bit_attention{false};

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
                 const float* q, uint32_t group_size, float scale, float* scores, bool wide, AttentionScratch& scratch) {
  using attention_avx2::Rows;
  const auto run = wide ? attention_avx512::scores : attention_avx2::scores;
  const size_t offset = size_t{j0} * dk;
  switch (layout) {
    case KvLayout::F32: return run(q, group_size, slab + offset * 4, Rows::F32, n, dk, scale, scores, bt);
    case KvLayout::F16: return run(q, group_size, slab + offset * 2, Rows::F16, n, dk, scale, scores, bt);
    case KvLayout::BF16: return run(q, group_size, slab + offset * 2, Rows::BF16, n, dk, scale, scores, bt);
    default: break;
  }
  const float* k = rows_as_f32(layout, slab, bt, dk, j0, n, scratch.k_tile.data());
  run(q, group_size, k, Rows::F32, n, dk, scale, scores, bt);
}

// AVX2: acc_r = alpha_r acc_r + sum_j p[r * bt + j] v_j over rows j0 ..
// j0 + n - 1 of a V slab, plain rows in place, quantized ones from the tile.
void simd_accumulate(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dv, uint32_t j0, size_t n,
                     float* acc, uint32_t group_size, const float* alpha, const float* p, bool wide,
                     AttentionScratch& scratch) {
  using attention_avx2::Rows;
  const auto run = wide ? attention_avx512::accumulate : attention_avx2::accumulate;
  const size_t offset = size_t{j0} * dv;
  switch (layout) {
    case KvLayout::F32: return run(acc, group_size, alpha, p, bt, slab + offset * 4, Rows::F32, n, dv);
    case KvLayout::F16: return run(acc, group_size, alpha, p, bt, slab + offset * 2, Rows::F16, n, dv);
    case KvLayout::BF16: return run(acc, group_size, alpha, p, bt, slab + offset * 2, Rows::BF16, n, dv);
    default: break;
  }
  const float* v = rows_as_f32(layout, slab, bt, dv, j0, n, scratch.v_tile.data());
  run(acc, group_size, alpha, p, bt, v, Rows::F32, n, dv);
}

// Quantized slabs read in place with integer dot products (AVX-512 VNNI);
// false when this slab's layout has no such path.
// q_int8 / q_scale / q_sum128: the query as quantize_query made it (q8 K).
bool vnni_scores(KvLayout layout, const std::byte* slab, uint32_t bt, size_t dk, uint32_t j0, size_t n,
                 const float* q, const int8_t* q_int8, const float* q_scale, const int32_t* q_sum128,
                 uint32_t group_size, float scale, float* scores, AttentionScratch& scratch) {
  if (layout == KvLayout::Q8Key) {
    attention_vnni::scores_q8(q_int8, q_scale, q_sum128, group_size, dk, slab, bt, j0, n, scale, scores, bt);
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
  const size_t rows = kMaxRows;
  scores.resize(static_cast<size_t>(group_size) * block_tokens);
  // Each row's total and its current partition's running softmax.
  acc.resize(2 * rows * group_size * params.head_dim_v);
  row_max.resize(2 * rows * group_size);
  row_sum.resize(2 * rows * group_size);
  alpha.resize(group_size);
  k_tile.resize(static_cast<size_t>(block_tokens) * params.head_dim_k);
  v_tile.resize(static_cast<size_t>(block_tokens) * params.head_dim_v);
  const size_t q_stride = attention_vnni::query_stride(params.head_dim_k);
  q_int8.resize(rows * group_size * q_stride);
  q_int8_scale.resize(rows * group_size);
  q_int8_sum128.resize(rows * group_size);
  vnni_work.resize(2 * size_t{params.head_dim_k} + group_size * (q_stride / 4 + 2));
}

size_t AttentionScratch::bytes() const {
  const size_t floats = scores.size() + acc.size() + row_max.size() + row_sum.size() + alpha.size() + k_tile.size() +
                        v_tile.size() + q_int8_scale.size() + q_int8_sum128.size() + vnni_work.size();
  return floats * sizeof(float) + q_int8.size();
}

void set_quantized_kv_integer_attention(bool enabled) { force_portable_attention = !enabled; }
void set_512_bit_float_attention(bool enabled) { force_256_bit_attention = !enabled; }

namespace {

// One query row's side of the KV head being processed: its visible keys
// [first_key, pos] and its query heads (f32, and int8 for q8 K).
struct RowQuery {
  uint32_t pos = 0;
  uint32_t first_key = 0;
  const float* q = nullptr;  // [group_size][dk]
  int8_t* q_int8 = nullptr;
  float* q_int8_scale = nullptr;
  int32_t* q_int8_sum128 = nullptr;
};

// A running softmax of the group's heads (FlashAttention's online form): max
// and sum of e^(score - max) so far, and the unnormalised outputs.
struct SoftmaxState {
  float* row_max = nullptr;  // [group_size]
  float* row_sum = nullptr;  // [group_size]
  float* acc = nullptr;      // [group_size][dv]
};

// What a call checked and derived once.
struct Setup {
  uint32_t bt = 0;
  size_t dk = 0;
  size_t dv = 0;
  uint32_t group_size = 0;
  size_t q_stride = 0;  // int8 query bytes per head
  uint32_t partition_blocks = 0;
  bool simd = false;
  bool wide = false;  // simd on 512-bit vectors
  bool vnni = false;
  bool v_rotated = false;
  std::span<const uint32_t> table;
};

Setup checked_setup(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                    const AttentionScratch& scratch, size_t n_rows, uint32_t kv_head_begin, uint32_t kv_head_end) {
  Setup s;
  s.bt = cache.options().block_tokens;
  s.dk = params.head_dim_k;
  s.dv = params.head_dim_v;
  if (params.n_kv_heads == 0 || params.n_heads % params.n_kv_heads != 0) fail("n_heads must be a multiple of n_kv_heads");
  if (params.n_kv_heads != cache.n_kv_heads() || s.dk != cache.head_dim_k() || s.dv != cache.head_dim_v()) {
    fail("head shape differs from the cache's");
  }
  s.group_size = params.n_heads / params.n_kv_heads;
  s.q_stride = attention_vnni::query_stride(s.dk);
  if (n_rows == 0 || n_rows > AttentionScratch::kMaxRows) fail("1 to kMaxRows query rows per call");
  if (scratch.group_size != s.group_size || scratch.block_tokens != s.bt || scratch.k_tile.size() < s.bt * s.dk ||
      scratch.v_tile.size() < s.bt * s.dv || scratch.acc.size() < 2 * n_rows * s.group_size * s.dv ||
      scratch.q_int8.size() < n_rows * s.group_size * s.q_stride) {
    fail("scratch sized for other parameters");
  }
  const uint32_t cache_window = cache.layer_window(layer);
  if (cache_window != 0 && (params.window == 0 || params.window > cache_window)) {
    fail("layer " + std::to_string(layer) + " keeps only a window of " + std::to_string(cache_window));
  }
  if (kv_head_end > params.n_kv_heads || kv_head_begin > kv_head_end) fail("KV head range out of bounds");
  s.table = cache.block_table(layer, seq);
  s.partition_blocks = attention_partition_blocks(s.bt);
  // V stored rotated (q4): the output is rotated back at the end.
  s.v_rotated = kv_layout_is_rotated(cache.v_layout());
  // AVX2 tiles read f32/f16/bf16 rows in place (quantized ones from an f32
  // tile); other CPUs and head dims that are not multiples of 8 take the
  // portable loops over f32 tiles.
  s.simd = attention_avx2::usable() && s.dk % 8 == 0 && s.dv % 8 == 0;
  // The same loops on 512-bit vectors where the CPU has them and the dims allow.
  s.wide = s.simd && attention_avx512::usable() && s.dk % 16 == 0 && s.dv % 16 == 0 && !force_256_bit_attention;
  s.vnni = attention_vnni::usable_for(s.bt, s.dk, s.dv) && !force_portable_attention;
  return s;
}

// Row `slot` of the scratch as the query at `pos` (q_row: its n_heads heads)
// for KV head g; the int8 query is made when q8 K will need it.
RowQuery row_query(const AttentionParams& params, const PagedKvCache& cache, SeqId seq, const Setup& s,
                   AttentionScratch& scratch, size_t slot, uint32_t pos, const float* q_row, uint32_t g) {
  if (pos / s.bt >= s.table.size() || pos >= cache.sequence_length(seq)) {
    fail("sequence " + std::to_string(seq) + " has no key at position " + std::to_string(pos));
  }
  RowQuery row;
  row.pos = pos;
  row.first_key = params.window != 0 && pos >= params.window ? pos - params.window + 1 : 0;
  row.q = q_row + static_cast<size_t>(g) * s.group_size * s.dk;
  row.q_int8 = scratch.q_int8.data() + slot * s.group_size * s.q_stride;
  row.q_int8_scale = scratch.q_int8_scale.data() + slot * s.group_size;
  row.q_int8_sum128 = scratch.q_int8_sum128.data() + slot * s.group_size;
  if (s.vnni && cache.k_layout() == KvLayout::Q8Key) {
    attention_vnni::quantize_query(row.q, s.group_size, s.dk, row.q_int8, row.q_int8_scale, row.q_int8_sum128);
  }
  return row;
}

// Scratch slot `slot` of the running softmax states (the first kMaxRows hold
// the rows' totals, the next kMaxRows their current partition).
SoftmaxState scratch_state(AttentionScratch& scratch, const Setup& s, size_t slot) {
  return {scratch.row_max.data() + slot * s.group_size, scratch.row_sum.data() + slot * s.group_size,
          scratch.acc.data() + slot * s.group_size * s.dv};
}

// Empty, or (with sinks) holding head h's sink: a key with logit sinks[h]
// and no value, which joins the softmax once, in the row's first partition.
void start_state(const AttentionParams& params, const Setup& s, uint32_t g, bool with_sinks, const SoftmaxState& st) {
  const bool sink = with_sinks && params.sinks != nullptr;
  for (uint32_t r = 0; r < s.group_size; ++r) {
    st.row_max[r] = sink ? params.sinks[g * s.group_size + r] : -std::numeric_limits<float>::infinity();
    st.row_sum[r] = sink ? 1.0f : 0.0f;
  }
  std::fill(st.acc, st.acc + s.group_size * s.dv, 0.0f);
}

// into = into (+) part: the softmax over both key sets. Both saw a key.
void merge_state(const Setup& s, const SoftmaxState& into, const SoftmaxState& part) {
  for (uint32_t r = 0; r < s.group_size; ++r) {
    const float m = std::max(into.row_max[r], part.row_max[r]);
    const float a = exp_approx(into.row_max[r] - m);
    const float b = exp_approx(part.row_max[r] - m);
    into.row_max[r] = m;
    into.row_sum[r] = into.row_sum[r] * a + part.row_sum[r] * b;
    float* acc = into.acc + r * s.dv;
    const float* other = part.acc + r * s.dv;
    for (size_t d = 0; d < s.dv; ++d) acc[d] = acc[d] * a + other[d] * b;
  }
}

// out_group [group_size][dv] = the normalised outputs.
void finish_state(const Setup& s, const SoftmaxState& st, float* out_group) {
  for (uint32_t r = 0; r < s.group_size; ++r) {
    const float inverse_sum = 1.0f / st.row_sum[r];
    const float* a = st.acc + r * s.dv;
    float* o = out_group + r * s.dv;
    for (size_t d = 0; d < s.dv; ++d) o[d] = a[d] * inverse_sum;
    if (s.v_rotated) kv_hadamard(o, static_cast<uint32_t>(s.dv));
  }
}

// The partitions [first, last] holding a row's visible keys.
std::pair<uint32_t, uint32_t> row_partitions(const Setup& s, const RowQuery& row) {
  return {row.first_key / s.bt / s.partition_blocks, row.pos / s.bt / s.partition_blocks};
}

// The slabs of one block and KV head, and the shape facts every step needs.
struct BlockStep {
  const AttentionParams& params;
  const Setup& setup;
  KvSlabs k_slabs;
  KvSlabs v_slabs;
  const std::byte* k_slab;
  const std::byte* v_slab;
};

// Keys j0 .. j0 + n - 1 of one block into one row's running softmax. A row's
// result depends only on its own sequence of these steps, so rows computed
// together (a tile of a prefill chunk) get the same bits as rows alone.
void attend_block(const BlockStep& step, uint32_t j0, size_t n, const RowQuery& row, const SoftmaxState& st,
                  AttentionScratch& scratch) {
  const AttentionParams& params = step.params;
  const Setup& s = step.setup;
  const uint32_t bt = s.bt;
  const uint32_t group_size = s.group_size;
  const float softcap = params.softcap;
  if (s.vnni && softcap == 0.0f) {
    const attention_vnni::BlockSlabs slabs{step.k_slabs.layout, step.k_slab,      step.v_slabs.layout,
                                           step.v_slab,         row.q,            row.q_int8,
                                           row.q_int8_scale,    row.q_int8_sum128};
    const attention_vnni::OnlineSoftmax state{st.row_max, st.row_sum, st.acc};
    if (attention_vnni::attend_block(slabs, bt, s.dk, s.dv, j0, n, group_size, params.scale, state,
                                     scratch.vnni_work.data())) {
      return;
    }
  }
  float* scores = scratch.scores.data();
  const bool scored = s.vnni && vnni_scores(step.k_slabs.layout, step.k_slab, bt, s.dk, j0, n, row.q, row.q_int8,
                                            row.q_int8_scale, row.q_int8_sum128, group_size, params.scale, scores,
                                            scratch);
  if (scored) {
    // done in place
  } else if (s.simd) {
    simd_scores(step.k_slabs.layout, step.k_slab, bt, s.dk, j0, n, row.q, group_size, params.scale, scores, s.wide,
                scratch);
  } else {
    const float* k = rows_as_f32(step.k_slabs.layout, step.k_slab, bt, s.dk, j0, n, scratch.k_tile.data());
    for (uint32_t r = 0; r < group_size; ++r) dot_rows(row.q + r * s.dk, k, n, s.dk, params.scale, scores + r * bt);
  }
  const float inverse_cap = softcap > 0.0f ? 1.0f / softcap : 0.0f;
  for (uint32_t r = 0; r < group_size; ++r) {
    float* sr = scores + static_cast<size_t>(r) * bt;
    if (softcap > 0.0f) {
      for (size_t j = 0; j < n; ++j) sr[j] = softcap * std::tanh(sr[j] * inverse_cap);
    }
    const float block_max = max_of(sr, n);
    scratch.alpha[r] = 1.0f;
    if (block_max > st.row_max[r]) {
      scratch.alpha[r] = exp_approx(st.row_max[r] - block_max);
      st.row_max[r] = block_max;
      st.row_sum[r] *= scratch.alpha[r];
    }
    st.row_sum[r] += exp_shifted_sum(sr, n, st.row_max[r]);
  }
  const bool accumulated = s.vnni && vnni_accumulate(step.v_slabs.layout, step.v_slab, bt, s.dv, j0, n, st.acc,
                                                     group_size, scratch.alpha.data(), scores);
  if (accumulated) {
    // done in place
  } else if (s.simd) {
    simd_accumulate(step.v_slabs.layout, step.v_slab, bt, s.dv, j0, n, st.acc, group_size, scratch.alpha.data(),
                    scores, s.wide, scratch);
  } else {
    const float* v = rows_as_f32(step.v_slabs.layout, step.v_slab, bt, s.dv, j0, n, scratch.v_tile.data());
    for (uint32_t r = 0; r < group_size; ++r) {
      accumulate_rows(st.acc + r * s.dv, scratch.alpha[r], scores + r * bt, v, n, s.dv);
    }
  }
}

// Blocks b0 .. b1 of the table for KV head g: each row i with a state
// (states[i].acc != null) takes the keys of these blocks it sees. Blocks
// outermost, so each block's slabs are read from memory once for all rows.
void attend_blocks(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, const Setup& s,
                   uint32_t g, uint32_t b0, uint32_t b1, const RowQuery* rows, const SoftmaxState* states,
                   size_t n_rows, AttentionScratch& scratch) {
  const uint32_t bt = s.bt;
  for (uint32_t b = b0; b <= b1; ++b) {
    const uint32_t block = s.table[b];
    const uint32_t block_start = b * bt;
    if (b < b1 && s.table[b + 1] != PagedKvCache::kNoBlock) {
      // Blocks are scattered in the pool: start the next head slab's loads
      // now, as the hardware prefetcher does not know where it is.
      const KvSlabs k_next = cache.k_slabs(layer, s.table[b + 1]);
      const KvSlabs v_next = cache.v_slabs(layer, s.table[b + 1]);
      prefetch(k_next.base + g * k_next.slab_bytes, k_next.slab_bytes);
      prefetch(v_next.base + g * v_next.slab_bytes, v_next.slab_bytes);
    }
    std::optional<BlockStep> step;
    for (size_t i = 0; i < n_rows; ++i) {
      const RowQuery& row = rows[i];
      if (states[i].acc == nullptr || block_start + bt <= row.first_key || block_start > row.pos) continue;
      if (!step) {
        if (block == PagedKvCache::kNoBlock) fail("block released while still inside the window");
        const KvSlabs k_slabs = cache.k_slabs(layer, block);
        const KvSlabs v_slabs = cache.v_slabs(layer, block);
        step.emplace(BlockStep{params, s, k_slabs, v_slabs, k_slabs.base + g * k_slabs.slab_bytes,
                               v_slabs.base + g * v_slabs.slab_bytes});
      }
      const uint32_t j0 = (row.first_key > block_start ? row.first_key : block_start) - block_start;
      const uint32_t j1 = (row.pos < block_start + bt - 1 ? row.pos : block_start + bt - 1) - block_start;
      attend_block(*step, j0, j1 - j0 + 1, row, states[i], scratch);
    }
  }
}

// Partition p's blocks, clipped to the table.
std::pair<uint32_t, uint32_t> partition_block_range(const Setup& s, uint32_t p) {
  const uint32_t b0 = p * s.partition_blocks;
  const auto last = static_cast<uint32_t>(s.table.size()) - 1;
  return {b0, std::min(last, b0 + s.partition_blocks - 1)};
}

}  // namespace

uint32_t attention_partition_blocks(uint32_t block_tokens) {
  return std::max<uint32_t>(1, kAttentionPartitionKeys / std::max<uint32_t>(1, block_tokens));
}

AttentionPartitions attention_partitions(const AttentionParams& params, uint32_t block_tokens, uint32_t pos) {
  const uint32_t first_key = params.window != 0 && pos >= params.window ? pos - params.window + 1 : 0;
  const uint32_t blocks = attention_partition_blocks(block_tokens);
  return {first_key / block_tokens / blocks, pos / block_tokens / blocks};
}

size_t attention_partial_floats(const AttentionParams& params) {
  const size_t group_size = params.n_kv_heads == 0 ? 0 : params.n_heads / params.n_kv_heads;
  return group_size * (2 + size_t{params.head_dim_v});
}

size_t attention_split_floats(const AttentionParams& params) {
  return size_t{kAttentionSplitKeys / kAttentionPartitionKeys} * params.n_kv_heads * attention_partial_floats(params);
}

void paged_attention(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                     uint32_t pos, const float* q, float* out, AttentionScratch& scratch) {
  paged_attention_kv_heads(params, cache, layer, seq, pos, q, out, scratch, 0, params.n_kv_heads);
}

void paged_attention_kv_heads(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer,
                              SeqId seq, uint32_t pos, const float* q, float* out, AttentionScratch& scratch,
                              uint32_t kv_head_begin, uint32_t kv_head_end) {
  const AttentionRows rows{{&pos, 1}, q, 0, out, 0};
  paged_attention_rows(params, cache, layer, seq, rows, scratch, kv_head_begin, kv_head_end);
}

void paged_attention_rows(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                          const AttentionRows& rows, AttentionScratch& scratch, uint32_t kv_head_begin,
                          uint32_t kv_head_end) {
  const size_t n_rows = rows.positions.size();
  const Setup s = checked_setup(params, cache, layer, seq, scratch, n_rows, kv_head_begin, kv_head_end);
  const size_t q_row_stride = rows.q_stride != 0 ? rows.q_stride : size_t{params.n_heads} * s.dk;
  const size_t out_row_stride = rows.out_stride != 0 ? rows.out_stride : size_t{params.n_heads} * s.dv;
  constexpr size_t kMax = AttentionScratch::kMaxRows;
  RowQuery queries[kMax];
  SoftmaxState totals[kMax];
  SoftmaxState parts[kMax];
  SoftmaxState targets[kMax];
  std::pair<uint32_t, uint32_t> partitions[kMax];

  for (uint32_t g = kv_head_begin; g < kv_head_end; ++g) {
    uint32_t p_first = std::numeric_limits<uint32_t>::max();
    uint32_t p_last = 0;
    for (size_t i = 0; i < n_rows; ++i) {
      queries[i] = row_query(params, cache, seq, s, scratch, i, rows.positions[i], rows.q + i * q_row_stride, g);
      totals[i] = scratch_state(scratch, s, i);
      parts[i] = scratch_state(scratch, s, kMax + i);
      start_state(params, s, g, /*with_sinks=*/true, totals[i]);
      partitions[i] = row_partitions(s, queries[i]);
      p_first = std::min(p_first, partitions[i].first);
      p_last = std::max(p_last, partitions[i].second);
    }
    // Partition by partition, as the split form (paged_attention_partition
    // + paged_attention_merge) computes them: a row's first partition runs
    // into its total, each later one into a fresh state merged after it.
    for (uint32_t p = p_first; p <= p_last; ++p) {
      for (size_t i = 0; i < n_rows; ++i) {
        targets[i] = {};
        if (p < partitions[i].first || p > partitions[i].second) continue;
        targets[i] = p == partitions[i].first ? totals[i] : parts[i];
        if (p != partitions[i].first) start_state(params, s, g, /*with_sinks=*/false, parts[i]);
      }
      const auto [b0, b1] = partition_block_range(s, p);
      attend_blocks(params, cache, layer, s, g, b0, b1, queries, targets, n_rows, scratch);
      for (size_t i = 0; i < n_rows; ++i) {
        if (p > partitions[i].first && p <= partitions[i].second) merge_state(s, totals[i], parts[i]);
      }
    }
    for (size_t i = 0; i < n_rows; ++i) {
      finish_state(s, totals[i], rows.out + i * out_row_stride + size_t{g} * s.group_size * s.dv);
    }
  }
}

void paged_attention_partition(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                               uint32_t pos, const float* q, uint32_t kv_head, uint32_t partition, float* partial,
                               AttentionScratch& scratch) {
  const Setup s = checked_setup(params, cache, layer, seq, scratch, 1, kv_head, kv_head + 1);
  const RowQuery row = row_query(params, cache, seq, s, scratch, 0, pos, q, kv_head);
  const auto [first, last] = row_partitions(s, row);
  if (partition < first || partition > last) fail("partition " + std::to_string(partition) + " holds no visible key");
  const SoftmaxState st{partial, partial + s.group_size, partial + 2 * s.group_size};
  start_state(params, s, kv_head, /*with_sinks=*/partition == first, st);
  const auto [b0, b1] = partition_block_range(s, partition);
  attend_blocks(params, cache, layer, s, kv_head, b0, b1, &row, &st, 1, scratch);
}

void paged_attention_merge(const AttentionParams& params, KvLayout v_layout, uint32_t kv_head,
                           float* partials, uint32_t n_partitions, float* out) {
  Setup s;
  s.dv = params.head_dim_v;
  if (params.n_kv_heads == 0 || params.n_heads % params.n_kv_heads != 0 || kv_head >= params.n_kv_heads) {
    fail("merge: KV head out of range");
  }
  s.group_size = params.n_heads / params.n_kv_heads;
  s.v_rotated = kv_layout_is_rotated(v_layout);
  if (n_partitions == 0) fail("no partitions to merge");
  const size_t stride = attention_partial_floats(params);
  auto state = [&](uint32_t p) {
    float* base = partials + p * stride;
    return SoftmaxState{base, base + s.group_size, base + 2 * s.group_size};
  };
  const SoftmaxState total = state(0);
  for (uint32_t p = 1; p < n_partitions; ++p) merge_state(s, total, state(p));
  finish_state(s, total, out + size_t{kv_head} * s.group_size * s.dv);
}

}  // namespace pocketllm
