// The batched forward pass (Model::forward over a ForwardBatch): a
// sequence's greedy tokens do not depend on what else runs in the batch.
// Each sequence is generated alone (its prompt as one prefill, then one
// token per step) and then together with 1, 3 and 7 others of different
// lengths that start at different steps and prefill in chunks of different
// sizes, so that prefill chunks and decode tokens of several sequences share
// one ForwardBatch. Matmuls split rows and attention works row by row, so
// the tokens must be identical, not merely close.
//
// Models: the embedded stories260K (GGUF, llama) and the gemma3 golden
// bundle (HF; sliding-window layers that release KV blocks as sequences
// move past their window of 8, while other sequences share the pool).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backends/cpu/ops/select.h"
#include "model/model.h"
#include "test_support.h"

namespace pocketllm {
namespace {

using test_support::test_data_path;

struct SequencePlan {
  std::vector<int32_t> prompt;
  size_t start_step = 0;  // the step at which it joins the batch
  size_t chunk = 0;       // prompt tokens per step; 0 = the whole prompt at once
};

struct SequenceState {
  SequencePlan plan;
  size_t fed = 0;  // prompt tokens in the cache
  std::vector<int32_t> generated;
};

// Generates `n_gen` tokens greedily for every plan, all in shared batches.
std::vector<std::vector<int32_t>> generate_together(Model& model, const std::vector<SequencePlan>& plans,
                                                    size_t n_gen) {
  KvCacheOptions options;
  options.k_dtype = KvDtype::F16;
  options.v_dtype = KvDtype::F16;
  options.block_tokens = 4;  // small blocks: sequences cross many block boundaries
  uint32_t total = 0;
  for (const SequencePlan& plan : plans) total += static_cast<uint32_t>(plan.prompt.size() + n_gen);
  options.n_blocks = PagedKvCache::blocks_for_tokens(total, static_cast<uint32_t>(plans.size()), 4);
  PagedKvCache cache(model.desc(), options);

  std::vector<SequenceState> seqs;
  for (const SequencePlan& plan : plans) seqs.push_back({plan, 0, {}});
  const size_t vocab = model.desc().vocab_size;
  ForwardBatch batch;
  std::vector<float> logits;
  std::vector<size_t> logit_owner;  // sequence of each logits row
  for (size_t step = 0;; ++step) {
    batch.clear();
    logit_owner.clear();
    bool unfinished = false;
    for (size_t s = 0; s < seqs.size(); ++s) {
      SequenceState& seq = seqs[s];
      if (seq.generated.size() == n_gen) continue;
      unfinished = true;
      if (step < seq.plan.start_step) continue;
      const auto id = static_cast<SeqId>(s);
      const size_t prompt_len = seq.plan.prompt.size();
      if (seq.fed < prompt_len) {
        const size_t chunk = seq.plan.chunk == 0 ? prompt_len : seq.plan.chunk;
        const size_t n = std::min(chunk, prompt_len - seq.fed);
        EXPECT_TRUE(cache.reserve(id, static_cast<uint32_t>(n)));
        const bool last = seq.fed + n == prompt_len;
        batch.add_sequence_chunk(id, seq.plan.prompt.data() + seq.fed, n, static_cast<int32_t>(seq.fed), last);
        seq.fed += n;
        if (last) logit_owner.push_back(s);
      } else {
        EXPECT_TRUE(cache.reserve(id, 1));
        const auto pos = static_cast<int32_t>(prompt_len + seq.generated.size() - 1);
        batch.add_sequence_chunk(id, &seq.generated.back(), 1, pos, true);
        logit_owner.push_back(s);
      }
    }
    if (!unfinished) break;
    if (batch.size() == 0) continue;
    model.forward(batch, cache, logits);
    EXPECT_EQ(logits.size(), logit_owner.size() * vocab);
    for (size_t r = 0; r < logit_owner.size(); ++r) {
      const std::span<const float> row(logits.data() + r * vocab, vocab);
      seqs[logit_owner[r]].generated.push_back(static_cast<int32_t>(ops::argmax(row)));
    }
  }
  std::vector<std::vector<int32_t>> out;
  for (const SequenceState& seq : seqs) out.push_back(seq.generated);
  return out;
}

// Prompts of different lengths from a fixed pseudo-random stream.
std::vector<std::vector<int32_t>> make_prompts(size_t count, int32_t first_token, uint32_t vocab) {
  std::vector<std::vector<int32_t>> prompts;
  uint32_t state = 12345;
  for (size_t i = 0; i < count; ++i) {
    std::vector<int32_t> prompt;
    if (first_token >= 0) prompt.push_back(first_token);
    const size_t length = 3 + (i * 5) % 17;
    while (prompt.size() < length) {
      state = state * 1664525u + 1013904223u;
      prompt.push_back(static_cast<int32_t>((state >> 8) % vocab));
    }
    prompts.push_back(prompt);
  }
  return prompts;
}

void check_batch_invariance(Model& model, int32_t first_token, size_t n_gen) {
  const std::vector<std::vector<int32_t>> prompts = make_prompts(8, first_token, model.desc().vocab_size);
  std::vector<std::vector<int32_t>> alone;
  for (const std::vector<int32_t>& prompt : prompts) {
    alone.push_back(generate_together(model, {SequencePlan{prompt, 0, 0}}, n_gen).front());
  }
  for (size_t n_seqs : {2u, 4u, 8u}) {
    std::vector<SequencePlan> plans;
    for (size_t s = 0; s < n_seqs; ++s) {
      // Staggered joins and chunk sizes 1..4 (0 = whole prompt for the first).
      plans.push_back({prompts[s], (s * 3) % 7, s == 0 ? 0 : 1 + s % 4});
    }
    const std::vector<std::vector<int32_t>> together = generate_together(model, plans, n_gen);
    for (size_t s = 0; s < n_seqs; ++s) {
      EXPECT_EQ(together[s], alone[s]) << "sequence " << s << " batched with " << n_seqs - 1 << " others";
    }
  }
}

std::unique_ptr<Model> load(const std::string& path) {
  ModelLoadOptions options;
  options.n_threads = 2;
  return Model::load(path, options);
}

TEST(ForwardBatch, Stories260KTokensDoNotDependOnTheBatch) {
  std::unique_ptr<Model> model = load("");
  ASSERT_NE(model->tokenizer(), nullptr);
  check_batch_invariance(*model, model->tokenizer()->vocab().bos, 20);
}

TEST(ForwardBatch, SlidingWindowGemma3TokensDoNotDependOnTheBatch) {
  std::unique_ptr<Model> model = load(test_data_path("golden/gemma3"));
  check_batch_invariance(*model, -1, 20);
}

TEST(ForwardBatch, LogitsOnlyForTheRowsAskedFor) {
  std::unique_ptr<Model> model = load(test_data_path("golden/llama3"));
  const size_t vocab = model->desc().vocab_size;
  KvCacheOptions options;
  options.n_blocks = 8;
  PagedKvCache cache(model->desc(), options);
  const std::vector<int32_t> ids = {5, 17, 300, 42, 7, 9};
  ASSERT_TRUE(cache.reserve(0, 6));
  ForwardBatch all;
  all.add_sequence_chunk(0, ids.data(), ids.size(), 0, true, true);
  std::vector<float> every_row;
  model->forward(all, cache, every_row);
  ASSERT_EQ(every_row.size(), 6 * vocab);

  // The same tokens again as another sequence, logits for rows 2 and 5 only.
  ASSERT_TRUE(cache.reserve(1, 6));
  ForwardBatch some;
  some.add_sequence_chunk(1, ids.data(), ids.size(), 0, false);
  some.want_logits[2] = 1;
  some.want_logits[5] = 1;
  std::vector<float> two_rows;
  model->forward(some, cache, two_rows);
  ASSERT_EQ(two_rows.size(), 2 * vocab);
  EXPECT_TRUE(std::equal(two_rows.begin(), two_rows.begin() + static_cast<ptrdiff_t>(vocab),
                         every_row.begin() + static_cast<ptrdiff_t>(2 * vocab)));
  EXPECT_TRUE(std::equal(two_rows.begin() + static_cast<ptrdiff_t>(vocab), two_rows.end(),
                         every_row.begin() + static_cast<ptrdiff_t>(5 * vocab)));
}

// Work is split over output rows and channels, never inside a reduction
// (thread_pool.h, linear.h): the logits are the same bits for any thread
// count, also where a share of the 192 FFN channels does not start on a SIMD
// boundary (5 threads) and the gated activation runs in the matmul's tasks.
TEST(ForwardBatch, LogitsDoNotDependOnTheThreadCount) {
  const std::vector<int32_t> ids = {5, 17, 300, 42, 7, 9, 150, 151, 2, 88, 64, 31};
  for (const char* name : {"golden/llama3", "golden/gemma3"}) {
    std::vector<float> one_thread;
    for (unsigned threads : {1u, 2u, 3u, 5u}) {
      ModelLoadOptions load_options;
      load_options.n_threads = threads;
      std::unique_ptr<Model> model = Model::load(test_data_path(name), load_options);
      KvCacheOptions options;
      options.n_blocks = 8;
      PagedKvCache cache(model->desc(), options);
      ASSERT_TRUE(cache.reserve(0, static_cast<uint32_t>(ids.size())));
      ForwardBatch batch;
      batch.add_sequence_chunk(0, ids.data(), ids.size(), 0, true, true);
      std::vector<float> logits;
      model->forward(batch, cache, logits);
      ASSERT_EQ(logits.size(), ids.size() * model->desc().vocab_size);
      if (threads == 1) {
        one_thread = logits;
      } else {
        EXPECT_TRUE(logits == one_thread) << name << " on " << threads << " threads";
      }
    }
  }
}

TEST(ForwardBatch, RefusesTokenIdsOutsideTheVocabulary) {
  std::unique_ptr<Model> model = load(test_data_path("golden/llama3"));
  KvCacheOptions options;
  options.n_blocks = 4;
  PagedKvCache cache(model->desc(), options);
  ASSERT_TRUE(cache.reserve(0, 1));
  ForwardBatch batch;
  const int32_t id = 320;  // vocab_size
  batch.add_sequence_chunk(0, &id, 1, 0, true);
  std::vector<float> logits;
  EXPECT_EQ(test_support::error_of([&] { model->forward(batch, cache, logits); }),
            "token id 320 is out of range: the model's vocabulary has 320 tokens");
}

}  // namespace
}  // namespace pocketllm
