#include "engine/forward_batch.h"

#include <stdexcept>

namespace pocketllm {

size_t ForwardBatch::n_logit_rows() const {
  size_t n = 0;
  for (const uint8_t w : want_logits) n += w != 0 ? 1 : 0;
  return n;
}

void ForwardBatch::clear() {
  token_ids.clear();
  positions.clear();
  seq_ids.clear();
  want_logits.clear();
}

void ForwardBatch::add_sequence_chunk(SeqId seq, const int32_t* ids, size_t n, int32_t pos, bool logits_for_last,
                                      bool logits_for_all) {
  for (size_t i = 0; i < n; ++i) {
    token_ids.push_back(ids[i]);
    positions.push_back(pos + static_cast<int32_t>(i));
    seq_ids.push_back(seq);
    want_logits.push_back((logits_for_all || (logits_for_last && i + 1 == n)) ? 1 : 0);
  }
}

void ForwardBatch::check_consistent() const {
  const size_t n = token_ids.size();
  if (positions.size() != n || seq_ids.size() != n || want_logits.size() != n)
    throw std::invalid_argument("ForwardBatch: token_ids, positions, seq_ids and want_logits differ in length");
}

}  // namespace pocketllm
