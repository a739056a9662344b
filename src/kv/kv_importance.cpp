#include "kv/kv_importance.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>

#include "backends/cpu/ops/softmax.h"

namespace pocketllm {

KvImportance::KvImportance(const ModelDesc& desc, SeqId seq)
    : desc_(desc),
      seq_(seq),
      scale_(static_cast<float>(desc.softmax_scale())),
      softcap_(static_cast<float>(desc.attn_softcap)) {}

void KvImportance::observe(const PagedKvCache& cache, uint32_t layer, const ForwardBatch& batch, const float* q,
                           size_t stride) {
  const uint32_t bt = cache.options().block_tokens;
  const uint32_t dk = desc_.head_dim_k;
  const uint32_t n_kv = desc_.n_kv_heads;
  const uint32_t group = desc_.n_heads / n_kv;  // query heads per KV head
  const uint32_t window = desc_.layer_is_sliding(layer) ? desc_.sliding_window : 0;
  const std::span<const uint32_t> table = cache.block_table(layer, seq_);
  const uint32_t length = cache.sequence_length(seq_);
  if (mass_.size() < length) {
    mass_.resize(length, 0.0);
    seen_.resize(length, 0);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.seq_ids[i] != seq_) continue;
    const auto pos = static_cast<uint32_t>(batch.positions[i]);
    if (pos >= length) throw std::logic_error("KvImportance: a query past the stored keys");
    // Visible keys [first, pos], as attention sees them.
    const uint32_t first = window != 0 && pos >= window ? pos - window + 1 : 0;
    const size_t n = pos - first + 1;
    keys_.resize(n * dk);
    scores_.resize(n);
    for (uint32_t h = 0; h < n_kv; ++h) {
      for (uint32_t b = first / bt; b <= pos / bt; ++b) {
        if (table[b] == PagedKvCache::kNoBlock) throw std::logic_error("KvImportance: a visible block was released");
        const uint32_t j0 = std::max(first, b * bt) - b * bt;
        const uint32_t j1 = std::min(pos, b * bt + bt - 1) - b * bt;
        const KvSlabs slabs = cache.k_slabs(layer, table[b]);
        kv_dequantize_rows(slabs.layout, slabs.base + h * slabs.slab_bytes, bt, dk, j0, j1 - j0 + 1,
                           keys_.data() + (size_t{b} * bt + j0 - first) * dk);
      }
      for (uint32_t r = 0; r < group; ++r) {
        const float* qh = q + i * stride + (size_t{h} * group + r) * dk;
        for (size_t j = 0; j < n; ++j) {
          const float* k = keys_.data() + j * dk;
          float dot = 0.0f;
          for (uint32_t d = 0; d < dk; ++d) dot += qh[d] * k[d];
          scores_[j] = scale_ * dot;
        }
        if (softcap_ > 0.0f) ops::soft_cap(scores_, softcap_);
        ops::softmax(scores_);
        for (size_t j = 0; j < n; ++j) {
          mass_[first + j] += static_cast<double>(scores_[j]);
          ++seen_[first + j];
        }
      }
    }
  }
}

void KvImportance::erase(uint32_t first, uint32_t n) {
  if (first >= mass_.size()) return;
  const auto begin = static_cast<std::ptrdiff_t>(first);
  const auto end = static_cast<std::ptrdiff_t>(std::min<size_t>(mass_.size(), size_t{first} + n));
  mass_.erase(mass_.begin() + begin, mass_.begin() + end);
  seen_.erase(seen_.begin() + begin, seen_.begin() + end);
}

double KvImportance::token_score(uint32_t pos) const {
  if (pos >= mass_.size() || seen_[pos] == 0) return 0.0;
  return mass_[pos] / static_cast<double>(seen_[pos]);
}

double KvImportance::total_mass() const {
  double sum = 0.0;
  for (const double m : mass_) sum += m;
  return sum;
}

std::vector<double> KvImportance::block_scores(uint32_t block_tokens) const {
  const size_t n_blocks = (mass_.size() + block_tokens - 1) / block_tokens;
  std::vector<double> scores(n_blocks, 0.0);
  for (uint32_t pos = 0; pos < mass_.size(); ++pos) scores[pos / block_tokens] += token_score(pos);
  for (double& s : scores) s /= block_tokens;
  return scores;
}

}  // namespace pocketllm
