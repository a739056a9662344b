// pocketllm against llama.cpp (node-llama-cpp from tests/js, run live) on
// the embedded model stories260K: the 64-token greedy continuation of
// "Once upon a time" must be identical, and perplexity on a fixed text
// (tests/data/llama_cpp/story.txt, llama-perplexity's method) within 0.5%.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/forward_batch.h"
#include "engine/perplexity.h"
#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace pocketllm;
using namespace pocketllm::test_support;

namespace {

const std::string kJsDir = js_dir();
const std::string kModel = std::string(POCKETLLM_TEST_DATA_DIR) + "/../../models/stories260K.gguf";
const std::string kStory = test_data_path("llama_cpp/story.txt");

// llama.cpp's greedy continuation of "Once upon a time" on stories260K:
// ", there was a little girl named Lily. She loved to play outside in the
// park. One day, she saw a big, red ball. She wanted to play with it, but it
// was too high.\nLily's mom said" (its first sentences are the continuation
// ../shared/ASSETS.md records from llama.cpp).
const std::vector<int> kLlamaCppGreedy = {
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322,
    265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
    337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310, 439, 419, 357, 336};

int argmax(const float* row, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return static_cast<int>(best);
}

TEST(LlamaCppOracle, Stories260KGreedyContinuationIsLlamaCpps) {
  POCKETLLM_REQUIRE_LLAMA_CPP_ORACLE();
  int status = -1;
  const std::string out = command_output(
      "node " + kJsDir + "/llama_cpp_greedy.mjs --threads 1 --n 64 --model " + kModel + " --prompt 'Once upon a time'",
      status);
  ASSERT_EQ(status, 0) << out;
  const auto oracle = nlohmann::json::parse(out);
  const auto llama_prompt = oracle["prompt"].get<std::vector<int>>();
  EXPECT_EQ(oracle["greedy"].get<std::vector<int>>(), kLlamaCppGreedy);

  // Ours: the prompt in one forward, then 63 single-token decode steps.
  const std::unique_ptr<Model> model = Model::load(kModel);
  const std::vector<TokenId> prompt = model->tokenizer()->encode("Once upon a time", true, false);
  ASSERT_EQ(std::vector<int>(prompt.begin(), prompt.end()), llama_prompt);
  KvCacheOptions kv;  // f16 K and V, as llama.cpp's default cache
  kv.n_blocks = PagedKvCache::blocks_for_tokens(128, 1, kv.block_tokens);
  PagedKvCache cache(model->desc(), kv);
  const size_t vocab = model->desc().vocab_size;

  ForwardBatch batch;
  std::vector<float> logits;
  batch.add_sequence_chunk(0, prompt.data(), prompt.size(), 0, true);
  ASSERT_TRUE(cache.reserve(0, static_cast<uint32_t>(prompt.size())));
  model->forward(batch, cache, logits);
  std::vector<int> ours;
  for (size_t step = 0; step < kLlamaCppGreedy.size(); ++step) {
    ASSERT_EQ(logits.size(), vocab);
    const int32_t next = argmax(logits.data(), vocab);
    ours.push_back(next);
    if (step + 1 == kLlamaCppGreedy.size()) break;
    batch.clear();
    batch.add_sequence_chunk(0, &next, 1, static_cast<int32_t>(prompt.size() + step), true);
    ASSERT_TRUE(cache.reserve(0, 1));
    model->forward(batch, cache, logits);
  }
  EXPECT_EQ(ours, kLlamaCppGreedy);
}

TEST(LlamaCppOracle, Stories260KPerplexityWithinHalfAPercentOfLlamaCpps) {
  POCKETLLM_REQUIRE_LLAMA_CPP_ORACLE();
  // 4 chunks of 128 tokens keep both sides quick.
  constexpr uint32_t kCtx = 128;
  constexpr size_t kChunks = 4;
  int status = -1;
  const std::string out = command_output("node " + kJsDir + "/llama_cpp_perplexity.mjs --threads 1 --ctx 128 --chunks 4 --model " +
                                             kModel + " --file " + kStory,
                                         status);
  ASSERT_EQ(status, 0) << out;
  double llama_ppl = 0.0;
  double llama_err = 0.0;
  const size_t at = out.find("Final estimate: PPL = ");
  ASSERT_NE(at, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "Final estimate: PPL = %lf +/- %lf", &llama_ppl, &llama_err), 2) << out;
  EXPECT_NE(out.find("over 4 chunks, n_ctx=128"), std::string::npos) << out;

  const std::unique_ptr<Model> model = Model::load(kModel);
  const Tokenizer& tokenizer = *model->tokenizer();
  std::vector<TokenId> tokens = tokenizer.encode(read_file_bytes(kStory), true, false);
  ASSERT_GE(tokens.size(), kChunks * kCtx);
  tokens.resize(kChunks * kCtx);
  KvCacheOptions kv;
  kv.n_blocks = PagedKvCache::blocks_for_tokens(kCtx, 1, kv.block_tokens);
  PagedKvCache cache(model->desc(), kv);
  PerplexityOptions options;
  options.n_ctx = kCtx;
  options.n_batch = kCtx;
  const PerplexityResult ours = evaluate_perplexity(*model, cache, tokens, tokenizer.vocab().bos, options);
  EXPECT_EQ(ours.n_chunks, kChunks);
  EXPECT_NEAR(ours.stats.perplexity() / llama_ppl, 1.0, 0.005) << "ours " << ours.stats.perplexity() << ", llama.cpp " << llama_ppl;
  EXPECT_NEAR(ours.stats.perplexity_error() / llama_err, 1.0, 0.05) << "ours " << ours.stats.perplexity_error() << ", llama.cpp " << llama_err;
}

}  // namespace
