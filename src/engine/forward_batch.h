#pragma once
// One step of work for the model: a flat list of tokens from any number of
// sequences. Prefill chunks (many consecutive positions of one sequence) and
// single decode tokens mix freely; this is the unit the scheduler builds and
// Model::forward runs (vLLM v1's "flat batch" design).
//
// Row i is token ids[i] of sequence seq_ids[i] at position positions[i].
// Within one sequence the rows' positions are consecutive and increasing,
// and they directly follow what that sequence already has in the KV cache.
// Logits are computed only for rows with want_logits[i] != 0, in row order.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketllm {

using SeqId = int32_t;

struct ForwardBatch {
  std::vector<int32_t> token_ids;
  std::vector<int32_t> positions;
  std::vector<SeqId> seq_ids;
  std::vector<uint8_t> want_logits;

  size_t size() const { return token_ids.size(); }
  size_t n_logit_rows() const;
  void clear();
  // Appends tokens [first, first + ids.size()) of `seq` starting at `pos`;
  // logits for the last one only when `logits_for_last`, for all when `logits_for_all`.
  void add_sequence_chunk(SeqId seq, const int32_t* ids, size_t n, int32_t pos, bool logits_for_last,
                          bool logits_for_all = false);
  // Throws std::invalid_argument when the four vectors differ in length.
  void check_consistent() const;
};

}  // namespace pocketllm
