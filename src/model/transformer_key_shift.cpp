// DenseTransformer::shift_key_positions: the context shift that cache
// eviction needs. K is stored after RoPE, so moving a token from position p
// to p + delta means rotating its stored K by delta: each (a, b) pair turns by
// delta * inv_freq[i] (rope.h), with attention_factor 1 because YaRN's factor
// was applied once already when the key was stored.
#include <algorithm>
#include <vector>

#include "model/transformer.h"

namespace pocketllm {

void DenseTransformer::shift_key_positions(PagedKvCache& cache, SeqId seq, uint32_t first_block, uint32_t end_block,
                                           int64_t delta) {
  if (delta == 0 || first_block >= end_block) return;
  // cos / sin of the delta for every RoPE set (global; Gemma 3's sliding base).
  std::vector<std::vector<float>> cos(rope_.size());
  std::vector<std::vector<float>> sin(rope_.size());
  for (size_t set = 0; set < rope_.size(); ++set) {
    const size_t half = rope_[set].half();
    cos[set].resize(half);
    sin[set].resize(half);
    ops::rope_cos_sin(delta, rope_[set].freq.inv_freq, 1.0f, cos[set], sin[set]);
  }
  const size_t head_dim = desc_.head_dim_k;
  const uint32_t bt = cache.options().block_tokens;
  const uint32_t length = cache.sequence_length(seq);
  for (uint32_t il = 0; il < desc_.n_layers; ++il) {
    const AttentionLayerWeights& w = layers_[il].attention;
    const std::span<const uint32_t> table = cache.block_table(il, seq);
    const uint32_t end = std::min<uint32_t>(end_block, static_cast<uint32_t>(table.size()));
    for (uint32_t b = first_block; b < end; ++b) {
      if (table[b] == PagedKvCache::kNoBlock) continue;
      const uint32_t n_rows = std::min<uint32_t>(bt, length - std::min<uint32_t>(length, b * bt));
      cache.rewrite_k_block(il, table[b], n_rows, [&](std::span<float> k) {
        // [n_kv_heads][block_tokens][head_dim]: every row is one head of one token.
        for (size_t row = 0; row + head_dim <= k.size(); row += head_dim) {
          ops::rope_apply(k.subspan(row, head_dim), 1, head_dim, w.rope_layout, cos[w.rope_set], sin[w.rope_set]);
        }
      });
    }
  }
}

}  // namespace pocketllm
