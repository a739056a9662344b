// Cache eviction (kv/kv_eviction.h): the StreamingLLM policy's arithmetic,
// the context shift (stored K re-rotated by the position delta with the
// model's own RoPE) checked against keys computed at the new positions, for
// K stored as f32, bf16, q8 and q4 (dequantized, rotated, quantized again), a
// 1,000-token generation on stories260K within a 256-token cache that stays
// fluent (no repeated-token collapse, no loop, low perplexity under the
// model itself) while its blocks stay at 256 / 16, and the importance policy
// (H2O) against StreamingLLM: fluency, and the perplexity of a held-out text
// read token by token through a cache smaller than the text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/perplexity.h"
#include "engine/sampler.h"
#include "kv/kv_eviction.h"
#include "kv/kv_importance.h"
#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "test_support.h"

namespace pocketllm {
namespace {

using test_support::error_of;
using test_support::test_data_path;

TEST(CacheEviction, PlanDropsAsFewWholeBlocksAsMakeRoom) {
  const CacheEvictionConfig c{16, 32, 128};  // start, recent, max
  const uint32_t bt = 16;
  // Fits: nothing dropped.
  EvictionStep s = plan_eviction(c, bt, 100, 20);
  EXPECT_EQ(s.n_fit, 20u);
  EXPECT_EQ(s.n_blocks, 0u);
  // Full: one more token drops the oldest block after the sink block.
  s = plan_eviction(c, bt, 128, 1);
  EXPECT_EQ(s.n_fit, 1u);
  EXPECT_EQ(s.first_block, 1u);
  EXPECT_EQ(s.n_blocks, 1u);
  // A large chunk: droppable are blocks [1, (120 - 32) / 16 = 5), so 8 + 64 tokens fit.
  s = plan_eviction(c, bt, 120, 512);
  EXPECT_EQ(s.n_fit, 72u);
  EXPECT_EQ(s.first_block, 1u);
  EXPECT_EQ(s.n_blocks, 4u);
  // A short sequence: nothing is droppable yet, the chunk is cut to the budget.
  s = plan_eviction(c, bt, 10, 500);
  EXPECT_EQ(s.n_fit, 118u);
  EXPECT_EQ(s.n_blocks, 0u);
}

TEST(CacheEviction, ConfigErrors) {
  EXPECT_EQ(error_of([] { validate_cache_eviction({10, 32, 128}, 16); }),
            "--start-size 10: cache eviction works in whole KV blocks; use a multiple of 16");
  EXPECT_EQ(error_of([] { validate_cache_eviction({16, 0, 128}, 16); }),
            "--recent-size must be at least one block (16 tokens)");
  EXPECT_EQ(error_of([] { validate_cache_eviction({64, 64, 128}, 16); }),
            "--max-cache-size 128 leaves no evictable area after --start-size 64 and --recent-size 64");
  EXPECT_EQ(error_of([] { validate_cache_eviction({0, 16, 32}, 16); }), "(no error)");
}

std::unique_ptr<Model> load(const std::string& path) {
  ModelLoadOptions options;
  options.n_threads = 2;
  return Model::load(path, options);
}

std::unique_ptr<PagedKvCache> cache_for(const ModelDesc& desc, uint32_t n_tokens, KvCacheTypes types) {
  KvCacheOptions options;
  options.k_dtype = types.k;
  options.v_dtype = types.v;
  options.n_blocks = PagedKvCache::blocks_for_tokens(n_tokens, 1, options.block_tokens);
  options.enable_prefix_caching = false;
  return std::make_unique<PagedKvCache>(desc, options);
}

std::vector<int32_t> pseudo_tokens(size_t n, uint32_t vocab) {
  std::vector<int32_t> out(n);
  uint32_t state = 99;
  for (int32_t& t : out) {
    state = state * 1664525u + 1013904223u;
    t = static_cast<int32_t>((state >> 8) % vocab);
  }
  return out;
}

// One eviction: `config` is filled by a first feed of `n_first` tokens, and
// a second feed up to `n_total` drops exactly block 1 (tokens 16..31).
struct ShiftCase {
  CacheEvictionConfig config;
  uint32_t n_first = 0;
  uint32_t n_total = 0;
};
// Exactly the budget, then one more token: the shifted blocks are full.
const ShiftCase kFullBlocks{{16, 16, 48}, 48, 49};
// 56 of 64 tokens, then 20 more: the shifted blocks include the filling one
// (8 rows; for q4 K still in its f16 staging rows).
const ShiftCase kFillingBlock{{16, 16, 64}, 56, 76};

// Layer 0's K depends only on the token and its position, so after an
// eviction the re-rotated keys must equal the keys of a fresh sequence made
// of the kept tokens. Sinks are not touched (bit-identical); shifted keys
// differ by the rounding of the stored format: `tolerance` bounds
// max |K_shifted - K_fresh| / max |K_fresh| (both read back as f32).
void check_shift_matches_fresh_keys(const std::string& model_path, KvDtype k_dtype, const ShiftCase& c,
                                    double tolerance) {
  std::unique_ptr<Model> model = load(model_path);
  const ModelDesc& desc = model->desc();
  const std::vector<int32_t> ids = pseudo_tokens(c.n_total, desc.vocab_size);
  const KvCacheTypes types(k_dtype, KvDtype::F16);
  const uint32_t budget = c.config.max_cache_size;

  std::unique_ptr<PagedKvCache> evicting = cache_for(desc, budget, types);
  Generator generator(*model, *evicting, budget, nullptr, 0);
  generator.set_cache_eviction(c.config);
  generator.feed(std::span(ids).first(c.n_first));
  generator.feed(std::span(ids).subspan(c.n_first));  // block 1 (tokens 16..31) goes
  const uint32_t kept_length = c.n_total - 16;
  EXPECT_EQ(generator.n_evicted_tokens(), 16u);
  EXPECT_EQ(generator.n_past(), kept_length);
  EXPECT_EQ(evicting->sequence_length(0), kept_length);

  std::vector<int32_t> kept(ids.begin(), ids.begin() + 16);
  kept.insert(kept.end(), ids.begin() + 32, ids.end());
  std::unique_ptr<PagedKvCache> fresh_cache = cache_for(desc, budget, types);
  Generator fresh(*model, *fresh_cache, budget, nullptr, 0);
  fresh.feed(kept);

  const uint32_t bt = evicting->options().block_tokens;
  const size_t dk = desc.head_dim_k;
  const std::span<const uint32_t> shifted = evicting->block_table(0, 0);
  const std::span<const uint32_t> reference = fresh_cache->block_table(0, 0);
  ASSERT_EQ(shifted.size(), reference.size());
  std::vector<float> k(size_t{bt} * dk);
  std::vector<float> r(size_t{bt} * dk);
  double worst = 0.0;
  double scale = 0.0;
  size_t compared = 0;
  for (uint32_t b = 0; b < shifted.size(); ++b) {
    if (shifted[b] == PagedKvCache::kNoBlock || reference[b] == PagedKvCache::kNoBlock) {
      EXPECT_EQ(shifted[b], reference[b]) << "block " << b << " released in one and not the other";
      continue;
    }
    const KvSlabs ks = evicting->k_slabs(0, shifted[b]);
    const KvSlabs rs = fresh_cache->k_slabs(0, reference[b]);
    const uint32_t filled = std::min<uint32_t>(bt, kept_length - b * bt);
    for (size_t h = 0; h < desc.n_kv_heads; ++h) {
      kv_dequantize_rows(ks.layout, ks.base + h * ks.slab_bytes, bt, desc.head_dim_k, 0, filled, k.data());
      kv_dequantize_rows(rs.layout, rs.base + h * rs.slab_bytes, bt, desc.head_dim_k, 0, filled, r.data());
      for (size_t i = 0; i < filled * dk; ++i) {
        if (b == 0) {
          EXPECT_EQ(k[i], r[i]) << "sink key changed at slot " << i / dk;
        }
        worst = std::max(worst, std::fabs(static_cast<double>(k[i]) - static_cast<double>(r[i])));
        scale = std::max(scale, std::fabs(static_cast<double>(r[i])));
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, size_t{desc.n_kv_heads} * dk * 8);
  EXPECT_LE(worst / scale, tolerance) << "max |K_shifted - K_fresh| / max |K_fresh|";
  std::printf("%s, K %s: layer 0 K after the shift vs fresh: max error %.3g of max |K| %.3g (%.2g; bound %.2g, "
              "%zu values)\n",
              model_path.c_str(), std::string(kv_dtype_name(k_dtype)).c_str(), worst, scale, worst / scale, tolerance,
              compared);
}

// llama3 golden: llama3 RoPE scaling; full attention.
TEST(CacheEviction, ShiftedKeysEqualFreshKeysLlama3) {
  check_shift_matches_fresh_keys(test_data_path("golden/llama3"), KvDtype::F32, kFullBlocks, 1e-5);
  check_shift_matches_fresh_keys(test_data_path("golden/llama3"), KvDtype::F32, kFillingBlock, 1e-5);
}

// gemma3 golden: layer 0 is a sliding-window layer with its own RoPE base
// (window 8: only its live blocks are compared; released ones must match).
TEST(CacheEviction, ShiftedKeysEqualFreshKeysGemma3Sliding) {
  check_shift_matches_fresh_keys(test_data_path("golden/gemma3"), KvDtype::F32, kFullBlocks, 1e-5);
}

// Quantized K: the shifted key was quantized when stored, rotated, and
// quantized again; the fresh key once. Let P be the largest norm of a RoPE
// pair of the exact keys (rotation keeps pair norms, so every value before
// and after the shift is at most P; P <= sqrt(2) max|K|) and e the format's
// error per quantization relative to P. The stored error rotates into at
// most sqrt(2) e P per value, quantizing again adds e P, and the fresh key
// has its own e P: |K_shifted - K_fresh| <= (2 + sqrt(2)) e P
// <= 4.83 e max|K| (first order; 1% margin for the second). Per format:
//   bf16: round to nearest with 8 significant bits: e = 2^-8.
//   q8 (per token): half a step of max|x| / 127, plus the f16 scale's
//        rounding (2^-11 relative, up to 127 steps): e = 1/254 + 2^-11.
//   q4 (per channel over the block): half a step of a channel's range / 15,
//        the range at most 2P, so P / 15, plus the f16 rounding of the
//        minimum, of the scale (x15) and of the staged rows: e = 1/15 + 4 * 2^-11.
double shifted_key_bound(double e) { return (2.0 + std::sqrt(2.0)) * std::sqrt(2.0) * e * 1.01; }

TEST(CacheEviction, ShiftedQuantizedKeysMatchFreshKeys) {
  const std::string llama3 = test_data_path("golden/llama3");
  const double bf16 = shifted_key_bound(1.0 / 256);
  const double q8 = shifted_key_bound(1.0 / 254 + 1.0 / 2048);
  const double q4 = shifted_key_bound(1.0 / 15 + 4.0 / 2048);
  for (const ShiftCase* c : {&kFullBlocks, &kFillingBlock}) {
    check_shift_matches_fresh_keys(llama3, KvDtype::BF16, *c, bf16);
    check_shift_matches_fresh_keys(llama3, KvDtype::Q8, *c, q8);
    check_shift_matches_fresh_keys(llama3, KvDtype::Q4, *c, q4);
  }
}

TEST(CacheEviction, RefusedWithPrefixCaching) {
  std::unique_ptr<Model> model = load("");
  KvCacheOptions options;
  options.n_blocks = 16;
  PagedKvCache cache(model->desc(), options);
  ASSERT_TRUE(cache.prefix_caching());
  Generator generator(*model, cache, 256, nullptr, 0);
  EXPECT_THROW(generator.set_cache_eviction({16, 64, 256}), std::invalid_argument);
}

// --- stories260K: a long generation in a small cache stays fluent ---

size_t longest_run(const std::vector<int32_t>& t) {
  size_t best = 0;
  for (size_t i = 0, run = 0; i < t.size(); ++i) {
    run = i > 0 && t[i] == t[i - 1] ? run + 1 : 1;
    best = std::max(best, run);
  }
  return best;
}

// Distinct n-grams / all n-grams in t[begin, end): 1 = no repetition,
// near 0 = a loop.
double distinct_ngram_ratio(const std::vector<int32_t>& t, size_t begin, size_t end, size_t n) {
  std::set<std::vector<int32_t>> seen;
  size_t total = 0;
  for (size_t i = begin; i + n <= end; ++i, ++total) seen.emplace(&t[i], &t[i] + n);
  return total == 0 ? 1.0 : static_cast<double>(seen.size()) / static_cast<double>(total);
}

// The model's own perplexity of t[begin, end) read afresh (no eviction):
// llama-perplexity's method with 100-token chunks (second halves scored).
// Fluent text scores low; word salad scores high.
double text_perplexity(Model& model, const std::vector<int32_t>& t, size_t begin, size_t end) {
  std::unique_ptr<PagedKvCache> cache = cache_for(model.desc(), 100, KvDtype::F16);
  PerplexityOptions options;
  options.n_ctx = 100;
  options.n_batch = 100;
  const std::span<const TokenId> text(t.data() + begin, end - begin);
  return evaluate_perplexity(model, *cache, text, model.tokenizer()->vocab().bos, options).stats.perplexity();
}

struct LongRun {
  std::vector<int32_t> tokens;
  uint32_t max_blocks_in_use = 0;
  uint32_t max_length = 0;
  uint64_t evicted = 0;
};

LongRun generate_story(Model& model, uint32_t cache_tokens, int32_t n_gen, const CacheEvictionConfig* eviction,
                       KvCacheTypes types = KvDtype::F16, const std::string& prompt = "Once upon a time",
                       uint64_t seed = 42) {
  const Tokenizer& tokenizer = *model.tokenizer();
  std::unique_ptr<PagedKvCache> cache = cache_for(model.desc(), cache_tokens, types);
  Generator generator(model, *cache, cache_tokens, nullptr, 0);
  if (eviction != nullptr) generator.set_cache_eviction(*eviction);
  generator.feed(tokenizer.encode(prompt, true, true));
  SamplingParams params;  // llama.cpp's chain, temperature 0.8
  params.seed = seed;
  Sampler sampler(params);
  LongRun run;
  const uint32_t pool = cache->options().n_blocks;
  run.tokens = generator
                   .generate(sampler, n_gen,
                             [&](TokenId, std::string_view) {
                               run.max_blocks_in_use = std::max(run.max_blocks_in_use, pool - cache->free_blocks());
                               run.max_length = std::max(run.max_length, cache->sequence_length(0));
                             })
                   .tokens;
  run.evicted = generator.n_evicted_tokens();
  return run;
}

// The same model without the context shift (kept keys keep their old
// rotation): what the fluency checks must catch.
class WithoutKeyShift final : public Model {
 public:
  explicit WithoutKeyShift(Model& model) : model_(model) {}
  const ModelDesc& desc() const override { return model_.desc(); }
  const Tokenizer* tokenizer() const override { return model_.tokenizer(); }
  std::optional<std::string> chat_template() const override { return model_.chat_template(); }
  void forward(const ForwardBatch& batch, PagedKvCache& cache, std::vector<float>& logits) override {
    model_.forward(batch, cache, logits);
  }
  void shift_key_positions(PagedKvCache&, SeqId, uint32_t, uint32_t, int64_t) override {}

 private:
  Model& model_;
};

// Fluency figures of a run's tokens t[begin, end).
struct Fluency {
  size_t longest_run = 0;
  double distinct_4grams = 0.0;
  double perplexity = 0.0;
};
Fluency fluency(Model& model, const std::vector<int32_t>& t, size_t begin, size_t end) {
  // longest_run over the whole run: a collapse anywhere counts.
  return {longest_run(t), distinct_ngram_ratio(t, begin, end, 4), text_perplexity(model, t, begin, end)};
}

// 1,000 tokens in a 256-token cache (16 sink + 128 recent, max 256): runs to
// the end within the budget, and tokens 500..999 are as fluent as a run
// without eviction (bounds explained in the test below).
Fluency expect_fluent_in_256_tokens(Model& model, const LongRun& plain, KvCacheTypes types, EvictionPolicy policy) {
  CacheEvictionConfig config{16, 128, 256};
  config.policy = policy;
  const LongRun evicted = generate_story(model, 256, 1000, &config, types);
  EXPECT_EQ(evicted.tokens.size(), 1000u);  // ran to the end: no "KV cache full"
  EXPECT_GE(evicted.evicted, 1000u - 256 + 5);
  EXPECT_EQ(evicted.max_blocks_in_use, 16u);  // flat: 256 / 16 blocks, never more
  EXPECT_LE(evicted.max_length, 256u);
  const Fluency p = fluency(model, plain.tokens, 0, plain.tokens.size());
  const Fluency e = fluency(model, evicted.tokens, 500, 1000);
  std::printf("eviction (%s, KV %s): %zu tokens (%llu evicted); tokens 500..999: longest run %zu, distinct 4-grams "
              "%.3f, perplexity %.2f\n",
              std::string(eviction_policy_name(policy)).c_str(), kv_cache_types_name(types).c_str(),
              evicted.tokens.size(), static_cast<unsigned long long>(evicted.evicted), e.longest_run,
              e.distinct_4grams, e.perplexity);
  EXPECT_LE(e.longest_run, std::max<size_t>(4, 2 * p.longest_run));
  EXPECT_GE(e.distinct_4grams, 0.8 * p.distinct_4grams);
  EXPECT_LE(e.perplexity, 2.0 * p.perplexity);
  return e;
}

TEST(CacheEviction, Stories260KThousandTokensInA256TokenCache) {
  std::unique_ptr<Model> model = load("");
  ASSERT_NE(model->tokenizer(), nullptr);
  // Without eviction: as long as the trained context (512) allows.
  const LongRun plain = generate_story(*model, 512, 480, nullptr);
  const Fluency p = fluency(*model, plain.tokens, 0, plain.tokens.size());
  std::printf("no eviction: %zu tokens, longest run %zu, distinct 4-grams %.3f, perplexity %.2f\n",
              plain.tokens.size(), p.longest_run, p.distinct_4grams, p.perplexity);
  // Measured (seed 42, x86-64): without eviction longest run 2, distinct
  // 4-grams 0.881, perplexity 2.11; with eviction, tokens 500..999: 2, 0.928,
  // 2.79 (text that reads like the training stories). Bounds: a repeated-token
  // collapse makes runs of tens of tokens (bound: twice the plain text's run,
  // at least 4); a loop drives distinct 4-grams towards 0 (bound: 0.8 x the
  // plain text's); word salad sends perplexity up (bound: 2 x the plain text's).
  expect_fluent_in_256_tokens(*model, plain, KvDtype::F16, EvictionPolicy::Streaming);
}

// K stored quantized (-ctk q8 / q4, V f16): every eviction re-quantizes the
// shifted blocks. Measured (seed 42, x86-64): tokens 500..999 with K q8:
// longest run 1, distinct 4-grams 0.751, perplexity 1.77; K q4: 2, 0.879,
// 2.26 (f16: 2, 0.928, 2.79). The runs differ by sampling: with the q8/q4
// slab layouts of commit 8319ae2 the same runs gave 2, 0.934, 2.50 and 2,
// 0.889, 2.35; the shifted keys themselves stay within the bounds above.
TEST(CacheEviction, Stories260KThousandTokensInA256TokenCacheQuantizedK) {
  std::unique_ptr<Model> model = load("");
  const LongRun plain = generate_story(*model, 512, 480, nullptr);
  expect_fluent_in_256_tokens(*model, plain, KvCacheTypes(KvDtype::Q8, KvDtype::F16), EvictionPolicy::Streaming);
  expect_fluent_in_256_tokens(*model, plain, KvCacheTypes(KvDtype::Q4, KvDtype::F16), EvictionPolicy::Streaming);
}

// The perplexity check catches broken positions: the same run without the
// key shift (kept keys keep their old rotation) turns to word salad after a
// few evictions. Measured: perplexity 222 for tokens 500..999, against 2.11
// (no eviction) and 2.79 (eviction with the shift) above.
TEST(CacheEviction, Stories260KWithoutTheKeyShiftTurnsToWordSalad) {
  std::unique_ptr<Model> model = load("");
  const CacheEvictionConfig config{16, 128, 256};
  WithoutKeyShift unshifted(*model);
  const LongRun broken = generate_story(unshifted, 256, 1000, &config);
  const double broken_ppl = text_perplexity(*model, broken.tokens, 500, 1000);
  std::printf("eviction without the key shift: tokens 500..999: perplexity %.2f\n", broken_ppl);
  EXPECT_GT(broken_ppl, 20.0);
}

// --- the importance policy (H2O) ---

TEST(CacheEviction, LowestScoreBlocksPicksTheLeastAttendedEvictableBlocks) {
  EvictionStep step;
  step.first_block = 1;
  step.droppable_end = 5;
  step.n_blocks = 2;
  //                            sink  evictable: 1    2    3    4   recent
  const std::vector<double> scores{0.0, 0.3, 0.1, 0.2, 0.1, 0.0};
  EXPECT_EQ(lowest_score_blocks(step, scores), (std::vector<uint32_t>{2, 4}));
  // Equal scores: the oldest, as StreamingLLM.
  const std::vector<double> equal(6, 0.5);
  EXPECT_EQ(lowest_score_blocks(step, equal), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(eviction_policy_from_name("H2O"), EvictionPolicy::H2O);
  EXPECT_EQ(error_of([] { eviction_policy_from_name("lru"); }), "--cache-eviction-policy lru: use streaming or h2o");
}

// Every query head's probabilities sum to 1, over the keys it sees: after a
// prefill chunk and decode steps, the mass held is rows x heads x layers, and
// the last token (seen by its own query only) got at most one per triple.
TEST(CacheEviction, ImportanceMassIsOneProbabilityPerQueryHead) {
  std::unique_ptr<Model> model = load("");
  const ModelDesc& desc = model->desc();
  std::unique_ptr<PagedKvCache> cache = cache_for(desc, 64, KvDtype::Q8);
  KvImportance importance(desc, 0);
  model->set_query_observer([&](uint32_t layer, const ForwardBatch& batch, const float* q, size_t stride) {
    importance.observe(*cache, layer, batch, q, stride);
  });
  {
    Generator generator(*model, *cache, 64, nullptr, 0);
    const std::vector<int32_t> ids = pseudo_tokens(40, desc.vocab_size);
    generator.feed(std::span(ids).first(37));
    generator.feed(std::span(ids).subspan(37, 1));
    generator.feed(std::span(ids).subspan(38, 2));
    const double triples = static_cast<double>(desc.n_heads) * desc.n_layers;
    EXPECT_EQ(importance.n_tokens(), 40u);
    EXPECT_NEAR(importance.total_mass(), 40 * triples, 1e-3);
    EXPECT_GT(importance.token_score(39), 0.0);
    EXPECT_LE(importance.token_score(39), 1.0);
    importance.erase(16, 16);
    EXPECT_EQ(importance.n_tokens(), 24u);
    const std::vector<double> blocks = importance.block_scores(16);
    ASSERT_EQ(blocks.size(), 2u);
  }
  model->set_query_observer({});
}

// The model's perplexity of `text` read one token at a time through a cache
// of `cache_tokens` (evicting with `eviction` when given): what each token's
// prediction could see is what the policy kept.
// Without eviction the whole text goes in one feed (the same logits: rows
// are computed alike however they are batched).
double evicting_perplexity(Model& model, std::span<const int32_t> text, uint32_t cache_tokens,
                           const CacheEvictionConfig* eviction) {
  std::unique_ptr<PagedKvCache> cache = cache_for(model.desc(), cache_tokens, KvDtype::F16);
  Generator generator(model, *cache, cache_tokens, nullptr, 0);
  if (eviction != nullptr) generator.set_cache_eviction(*eviction);
  const size_t vocab = model.desc().vocab_size;
  std::vector<float> all_logits;
  if (eviction == nullptr) all_logits = generator.feed(text.first(text.size() - 1), true);
  double nll = 0.0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    const std::span<const float> logits = eviction == nullptr
                                              ? std::span<const float>(all_logits).subspan(i * vocab, vocab)
                                              : std::span<const float>(generator.feed(text.subspan(i, 1)));
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float l : logits) sum += std::exp(static_cast<double>(l - max));
    nll += std::log(sum) - static_cast<double>(logits[static_cast<size_t>(text[i + 1])] - max);
  }
  return std::exp(nll / static_cast<double>(text.size() - 1));
}

// Held-out text (tests/data/text/little_stories.txt), in windows of the
// trained context (512 tokens, BOS first) starting every `step` tokens.
std::vector<std::vector<int32_t>> held_out_windows(const Model& model, size_t step) {
  const Tokenizer& tokenizer = *model.tokenizer();
  const std::vector<int32_t> all =
      tokenizer.encode(test_support::read_file_bytes(test_data_path("text/little_stories.txt")), false, true);
  std::vector<std::vector<int32_t>> windows;
  for (size_t begin = 0; begin + 511 <= all.size(); begin += step) {
    std::vector<int32_t> w{tokenizer.vocab().bos};
    w.insert(w.end(), all.begin() + static_cast<std::ptrdiff_t>(begin),
             all.begin() + static_cast<std::ptrdiff_t>(begin + 511));
    windows.push_back(std::move(w));
  }
  return windows;
}

TEST(CacheEviction, ImportancePolicyStaysFluentWithinTheBudget) {
  std::unique_ptr<Model> model = load("");
  const LongRun plain = generate_story(*model, 512, 480, nullptr);
  // Measured (seed 42, x86-64): tokens 500..999: longest run 2, distinct
  // 4-grams 0.926, perplexity 2.55 (streaming: 2, 0.928, 2.79).
  expect_fluent_in_256_tokens(*model, plain, KvDtype::F16, EvictionPolicy::H2O);
}

// Geometric means over `windows` of the perplexity read without eviction
// (cache of 512), and with `streaming`'s budget under streaming and under h2o.
struct PolicyPerplexities {
  double full = 0.0;
  double streaming = 0.0;
  double h2o = 0.0;
};

PolicyPerplexities compare_policies(Model& model, const std::vector<std::vector<int32_t>>& windows,
                                    const CacheEvictionConfig& streaming) {
  CacheEvictionConfig h2o = streaming;
  h2o.policy = EvictionPolicy::H2O;
  PolicyPerplexities logs;
  for (const std::vector<int32_t>& w : windows) {
    const double full = evicting_perplexity(model, w, 512, nullptr);
    const double s = evicting_perplexity(model, w, streaming.max_cache_size, &streaming);
    const double h = evicting_perplexity(model, w, streaming.max_cache_size, &h2o);
    std::printf("window of %zu tokens: perplexity without eviction %.3f, streaming %.3f, h2o %.3f\n", w.size(), full,
                s, h);
    logs.full += std::log(full);
    logs.streaming += std::log(s);
    logs.h2o += std::log(h);
  }
  const auto n = static_cast<double>(windows.size());
  return {std::exp(logs.full / n), std::exp(logs.streaming / n), std::exp(logs.h2o / n)};
}

// The held-out text read token by token through a 128-token cache: 16 sinks,
// 16 recent tokens and 6 evictable blocks for the importance policy to
// choose from. Measured (x86-64), the 4 windows starting every 512 tokens:
// perplexity without eviction 4.336, streaming 4.414, h2o 4.418 (geometric
// means; per window 3.559 / 3.706 / 3.706, 4.282 / 4.273 / 4.281,
// 4.652 / 4.770 / 4.767, 4.986 / 5.024 / 5.038). Over 7 windows every 256
// tokens (DISABLED_MeasureStreamingAgainstImportance below): without
// eviction 4.365, streaming 4.422, h2o 4.423, and with the raw attention sum
// of the H2O paper instead of the mean 4.844. At 64 tokens (16 + 16, 2
// evictable blocks): 4.765 both (raw sum 5.033); at 256: 4.367 both. 1,000
// generated tokens in 256 (4 prompts x 3 seeds), tokens 500..999: streaming
// perplexity 2.566, distinct 4-grams 0.921; h2o 2.522, 0.915; longest run 2
// in every run of both. On this model attention falls off with distance,
// so the least attended evictable block is nearly always the oldest one:
// h2o keeps what StreamingLLM keeps, and does not beat it.
// Bounds: eviction costs at most 3% over reading without it, and h2o at
// most 1% over streaming (the raw sum, +9.5%, fails it).
TEST(CacheEviction, ImportancePolicyPerplexity) {
  std::unique_ptr<Model> model = load("");
  const std::vector<std::vector<int32_t>> windows = held_out_windows(*model, 512);
  ASSERT_EQ(windows.size(), 4u);
  const PolicyPerplexities ppl = compare_policies(*model, windows, CacheEvictionConfig{16, 16, 128});
  std::printf("geometric mean over %zu windows: without eviction %.3f, streaming %.3f, h2o %.3f\n", windows.size(),
              ppl.full, ppl.streaming, ppl.h2o);
  EXPECT_LE(ppl.streaming, 1.03 * ppl.full);
  EXPECT_LE(ppl.h2o, 1.03 * ppl.full);
  EXPECT_LE(ppl.h2o, 1.01 * ppl.streaming);
}

// The measurement behind the figures above, over more windows, budgets,
// prompts and seeds (slow; run with --gtest_also_run_disabled_tests).
TEST(CacheEviction, DISABLED_MeasureStreamingAgainstImportance) {
  std::unique_ptr<Model> model = load("");
  const std::vector<std::vector<int32_t>> windows = held_out_windows(*model, 256);
  for (const CacheEvictionConfig& streaming : {CacheEvictionConfig{16, 16, 64}, CacheEvictionConfig{16, 16, 128},
                                               CacheEvictionConfig{16, 48, 128}, CacheEvictionConfig{16, 16, 256}}) {
    const PolicyPerplexities ppl = compare_policies(*model, windows, streaming);
    std::printf("held-out perplexity, budget %u (16 sink + %u recent), %zu windows of 512: none %.3f, streaming %.3f, "
                "h2o %.3f\n",
                streaming.max_cache_size, streaming.recent_size, windows.size(), ppl.full, ppl.streaming, ppl.h2o);
  }
  const char* prompts[] = {"Once upon a time", "Tom and his dog", "The little bird", "One day, Lily"};
  for (const EvictionPolicy policy : {EvictionPolicy::Streaming, EvictionPolicy::H2O}) {
    CacheEvictionConfig config{16, 128, 256};
    config.policy = policy;
    double run_sum = 0.0;
    double ratio_sum = 0.0;
    double log_ppl = 0.0;
    size_t worst_run = 0;
    size_t n = 0;
    for (const char* prompt : prompts) {
      for (const uint64_t seed : {1u, 2u, 42u}) {
        const LongRun r = generate_story(*model, 256, 1000, &config, KvDtype::F16, prompt, seed);
        const Fluency f = fluency(*model, r.tokens, 500, r.tokens.size());
        run_sum += static_cast<double>(f.longest_run);
        worst_run = std::max(worst_run, f.longest_run);
        ratio_sum += f.distinct_4grams;
        log_ppl += std::log(f.perplexity);
        ++n;
      }
    }
    const auto m = static_cast<double>(n);
    std::printf("%s, 1,000 tokens in 256, %zu runs (4 prompts x 3 seeds), tokens 500..999: longest run mean %.2f "
                "(worst %zu), distinct 4-grams mean %.3f, perplexity geometric mean %.3f\n",
                std::string(eviction_policy_name(policy)).c_str(), n, run_sum / m, worst_run, ratio_sum / m,
                std::exp(log_ppl / m));
  }
}

}  // namespace
}  // namespace pocketllm
