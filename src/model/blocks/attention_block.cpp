#include "model/blocks/attention_block.h"

#include <fmt/format.h>

#include <algorithm>

#include "backends/cpu/ops/norm.h"
#include "model/blocks/linear.h"
#include "model/blocks/row_ops.h"

namespace pocketllm {
namespace {

std::string tensor(uint32_t layer, std::string_view suffix) { return fmt::format("blk.{}.{}", layer, suffix); }

void append(std::vector<float>& out, const std::vector<float>& part) { out.insert(out.end(), part.begin(), part.end()); }

// Rows in tiles: up to kMaxRows consecutive rows of one sequence, which
// walk its KV blocks together (the cache is read once per tile). One task
// per (tile, KV head). Each row's output is computed the same way whoever
// runs it and whatever its tile, so the split changes no bits (batch
// invariance). Tasks take the tiles from both ends in turn: in a causal
// chunk the later tiles see more keys, and each thread's contiguous share of
// tasks gets a mix.
void attend_tiles(const AttentionRun& run, const AttentionParams& params, uint32_t layer) {
  const size_t n = run.batch.size();
  std::vector<size_t>& tiles = run.work.tiles;
  tiles.clear();
  for (size_t i = 0; i < n; ++i) {
    if (tiles.empty() || i - tiles.back() == AttentionScratch::kMaxRows ||
        run.batch.seq_ids[i] != run.batch.seq_ids[i - 1]) {
      tiles.push_back(i);
    }
  }
  const size_t n_tiles = tiles.size();
  tiles.push_back(n);
  const size_t ld = run.dims.qkv_dim();
  const size_t out_dim = run.dims.out_dim();
  const uint32_t n_kv_heads = params.n_kv_heads;
  auto attend = [&](size_t task, unsigned thread) {
    const size_t k = task / n_kv_heads;
    const size_t tile = k % 2 == 0 ? k / 2 : n_tiles - 1 - k / 2;
    const auto kv_head = static_cast<uint32_t>(task % n_kv_heads);
    const size_t first = tiles[tile];
    const size_t count = tiles[tile + 1] - first;
    uint32_t positions[AttentionScratch::kMaxRows];
    for (size_t r = 0; r < count; ++r) positions[r] = static_cast<uint32_t>(run.batch.positions[first + r]);
    const AttentionRows rows{{positions, count}, run.qkv + first * ld, ld, run.attn + first * out_dim, out_dim};
    paged_attention_rows(params, run.cache, layer, run.batch.seq_ids[first], rows, run.scratch[thread], kv_head,
                         kv_head + 1);
  };
  const size_t n_tasks = n_tiles * n_kv_heads;
  if (n_tasks == 1) {
    attend(0, 0);  // no fork/join for a single task
  } else {
    run.ctx.pool.parallel_for(n_tasks, attend);
  }
}

// Few rows with long contexts (decode): too few (tile, KV head) tasks to
// keep the threads busy, so each row's keys are split into their fixed
// partitions, one task per (row, KV head, partition), merged after. Same
// bits as attend_tiles (see paged_attention.h). False, nothing done, when
// that would not help or the partials do not fit their buffer.
bool attend_split(const AttentionRun& run, const AttentionParams& params, uint32_t layer) {
  const size_t n = run.batch.size();
  const unsigned threads = run.ctx.pool.size();
  const uint32_t n_kv_heads = params.n_kv_heads;
  if (threads < 2 || n * n_kv_heads >= threads) return false;
  const uint32_t bt = run.cache.options().block_tokens;
  AttentionWork& work = run.work;
  work.partitions.clear();
  work.partial_offsets.clear();
  size_t total = 0;
  uint32_t most = 1;
  for (size_t i = 0; i < n; ++i) {
    const AttentionPartitions parts =
        attention_partitions(params, bt, static_cast<uint32_t>(run.batch.positions[i]));
    work.partitions.push_back(parts);
    work.partial_offsets.push_back(total);
    total += size_t{parts.count()} * n_kv_heads;
    most = std::max(most, parts.count());
  }
  work.partial_offsets.push_back(total);
  const size_t partial_floats = attention_partial_floats(params);
  if (most == 1 || total * partial_floats > work.partials.size()) return false;

  const size_t ld = run.dims.qkv_dim();
  const size_t out_dim = run.dims.out_dim();
  float* partials = work.partials.data();
  // Partial t: row i (offsets[i] <= t < offsets[i + 1]), then KV head, then partition.
  auto row_of = [&](size_t t) {
    return static_cast<size_t>(std::upper_bound(work.partial_offsets.begin(), work.partial_offsets.end(), t) -
                               work.partial_offsets.begin()) - 1;
  };
  run.ctx.pool.parallel_for(total, [&](size_t t, unsigned thread) {
    const size_t i = row_of(t);
    const AttentionPartitions parts = work.partitions[i];
    const size_t local = t - work.partial_offsets[i];
    const auto kv_head = static_cast<uint32_t>(local / parts.count());
    const auto partition = static_cast<uint32_t>(parts.first + local % parts.count());
    paged_attention_partition(params, run.cache, layer, run.batch.seq_ids[i],
                              static_cast<uint32_t>(run.batch.positions[i]), run.qkv + i * ld, kv_head, partition,
                              partials + t * partial_floats, run.scratch[thread]);
  });
  run.ctx.pool.parallel_for(n * n_kv_heads, [&](size_t task, unsigned) {
    const size_t i = task / n_kv_heads;
    const auto kv_head = static_cast<uint32_t>(task % n_kv_heads);
    const uint32_t count = work.partitions[i].count();
    float* first = partials + (work.partial_offsets[i] + size_t{kv_head} * count) * partial_floats;
    paged_attention_merge(params, run.cache.v_layout(), kv_head, first, count, run.attn + i * out_dim);
  });
  return true;
}

}  // namespace

AttentionDims attention_dims(const ModelDesc& desc) {
  return {desc.n_heads, desc.n_kv_heads, desc.head_dim_k, desc.head_dim_v};
}

void RopeRows::compute(std::span<const int32_t> positions) {
  const size_t h = half();
  cos.resize(positions.size() * h);
  sin.resize(positions.size() * h);
  for (size_t i = 0; i < positions.size(); ++i) {
    ops::rope_cos_sin(positions[i], freq.inv_freq, freq.attention_factor, {cos.data() + i * h, h},
                      {sin.data() + i * h, h});
  }
}

AttentionLayerWeights load_attention_layer(const ModelWeights& weights, const ModelDesc& d, uint32_t layer,
                                           float norm_offset, uint32_t rope_set) {
  const AttentionDims dims = attention_dims(d);
  AttentionLayerWeights w;
  w.fused_qkv = d.fused_qkv;
  if (w.fused_qkv) {
    w.qkv = weights.matrix(tensor(layer, "attn_qkv.weight"), dims.qkv_dim(), d.n_embd);
    if (d.qkv_bias) w.qkv_bias = weights.vector_f32(tensor(layer, "attn_qkv.bias"), dims.qkv_dim());
  } else {
    w.q = weights.matrix(tensor(layer, "attn_q.weight"), dims.q_dim(), d.n_embd);
    w.k = weights.matrix(tensor(layer, "attn_k.weight"), dims.k_dim(), d.n_embd);
    w.v = weights.matrix(tensor(layer, "attn_v.weight"), dims.v_dim(), d.n_embd);
    if (d.qkv_bias) {
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_q.bias"), dims.q_dim()));
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_k.bias"), dims.k_dim()));
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_v.bias"), dims.v_dim()));
    }
  }
  w.o = weights.matrix(tensor(layer, "attn_output.weight"), d.n_embd, dims.out_dim());
  if (d.o_bias) w.o_bias = weights.vector_f32(tensor(layer, "attn_output.bias"), d.n_embd);
  if (d.qk_norm) {
    w.q_norm = weights.vector_f32(tensor(layer, "attn_q_norm.weight"), d.head_dim_k, norm_offset);
    w.k_norm = weights.vector_f32(tensor(layer, "attn_k_norm.weight"), d.head_dim_k, norm_offset);
  }
  w.norm_eps = static_cast<float>(d.norm_eps);
  w.params.n_heads = d.n_heads;
  w.params.n_kv_heads = d.n_kv_heads;
  w.params.head_dim_k = d.head_dim_k;
  w.params.head_dim_v = d.head_dim_v;
  w.params.scale = static_cast<float>(d.softmax_scale());
  w.params.softcap = static_cast<float>(d.attn_softcap);
  w.params.window = d.layer_is_sliding(layer) ? d.sliding_window : 0;
  w.rope_layout = d.rope.layout;
  w.rope_set = rope_set;
  return w;
}

void run_attention(const AttentionRun& run, const AttentionLayerWeights& w, uint32_t layer, const float* x,
                   float* y) {
  const AttentionDims& dims = run.dims;
  const size_t n = run.batch.size();
  const size_t ld = dims.qkv_dim();
  const auto ldy = static_cast<int64_t>(ld);
  if (w.fused_qkv) {
    const LinearOutput out{&w.qkv, run.qkv, ldy};
    run_linear(run.ctx, x, static_cast<int64_t>(n), {&out, 1});
  } else {
    const LinearOutput outs[] = {{&w.q, run.qkv, ldy},
                                 {&w.k, run.qkv + dims.q_dim(), ldy},
                                 {&w.v, run.qkv + dims.q_dim() + dims.k_dim(), ldy}};
    run_linear(run.ctx, x, static_cast<int64_t>(n), outs);
  }

  // Per row: bias, q/k norm, RoPE, then into the cache (all rows before any query).
  const RopeRows& rope = run.rope[w.rope_set];
  const size_t half = rope.half();
  for (size_t i = 0; i < n; ++i) {
    float* row = run.qkv + i * ld;
    if (!w.qkv_bias.empty()) add_in_place(row, w.qkv_bias.data(), ld);
    float* q = row;
    float* k = row + dims.q_dim();
    if (!w.q_norm.empty()) {
      for (uint32_t h = 0; h < dims.n_heads; ++h) {
        std::span<float> head(q + size_t{h} * dims.head_dim_k, dims.head_dim_k);
        ops::rms_norm(head, w.q_norm, w.norm_eps, ops::NormWeight::Plain, head);
      }
      for (uint32_t h = 0; h < dims.n_kv_heads; ++h) {
        std::span<float> head(k + size_t{h} * dims.head_dim_k, dims.head_dim_k);
        ops::rms_norm(head, w.k_norm, w.norm_eps, ops::NormWeight::Plain, head);
      }
    }
    std::span<const float> cos(rope.cos.data() + i * half, half);
    std::span<const float> sin(rope.sin.data() + i * half, half);
    ops::rope_apply({q, dims.q_dim()}, dims.n_heads, dims.head_dim_k, w.rope_layout, cos, sin);
    ops::rope_apply({k, dims.k_dim()}, dims.n_kv_heads, dims.head_dim_k, w.rope_layout, cos, sin);
    run.cache.store(layer, run.batch.seq_ids[i], static_cast<uint32_t>(run.batch.positions[i]), k,
                    k + dims.k_dim());
  }

  if (!attend_split(run, w.params, layer)) attend_tiles(run, w.params, layer);

  run_linear(run.ctx, run.attn, static_cast<int64_t>(n), w.o, y);
  if (!w.o_bias.empty()) {
    for (size_t i = 0; i < n; ++i) add_in_place(y + i * w.o_bias.size(), w.o_bias.data(), w.o_bias.size());
  }
}

}  // namespace pocketllm
