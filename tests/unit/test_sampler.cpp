// Sampler: each stage of llama.cpp's chain (top-k, top-p, min-p,
// temperature) on small logit vectors whose results are worked out by hand
// in the comments, the chain order, greedy decoding, seeded reproducibility,
// and the empirical frequencies of draws.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sampler.h"
#include "test_support.h"
#include "util/error.h"

namespace pocketllm {
namespace {

std::vector<TokenCandidate> candidates_of(const std::vector<float>& logits) {
  std::vector<TokenCandidate> out;
  for (size_t i = 0; i < logits.size(); ++i) out.push_back({static_cast<TokenId>(i), logits[i], 0.0f});
  return out;
}

std::vector<TokenId> ids_of(const std::vector<TokenCandidate>& candidates) {
  std::vector<TokenId> ids;
  for (const TokenCandidate& c : candidates) ids.push_back(c.id);
  return ids;
}

// Logits whose softmax is exactly `probs` (log of each), plus a shift that
// softmax ignores.
std::vector<float> logits_for(const std::vector<double>& probs, double shift = 0.0) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p) + shift));
  return logits;
}

// Only the stage under test: the others set to their "off" values.
SamplingParams only(float temperature = 1.0f) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  return params;
}

constexpr float kProbTolerance = 1e-5f;

TEST(Sampler, ArgmaxTakesFirstOfTies) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax(logits), 1);
}

TEST(Sampler, TemperatureZeroIsGreedy) {
  const std::vector<float> logits = {0.5f, -1.0f, 4.0f, 3.9f, 4.0f};
  SamplingParams params;  // llama.cpp defaults, except temperature
  params.temperature = 0.0f;
  Sampler sampler(params);
  EXPECT_TRUE(sampler.is_greedy());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(logits), 2);
  const std::vector<TokenCandidate> dist = sampler.distribution(logits);
  ASSERT_EQ(dist.size(), 1u);
  EXPECT_EQ(dist[0].id, 2);
  EXPECT_EQ(dist[0].p, 1.0f);
}

TEST(Sampler, SoftmaxOfLogProbabilitiesGivesThemBack) {
  std::vector<TokenCandidate> c = candidates_of(logits_for({0.2, 0.5, 0.3}, 3.0));
  softmax_candidates(c);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{1, 2, 0}));  // sorted by probability
  EXPECT_NEAR(c[0].p, 0.5f, kProbTolerance);
  EXPECT_NEAR(c[1].p, 0.3f, kProbTolerance);
  EXPECT_NEAR(c[2].p, 0.2f, kProbTolerance);
}

TEST(Sampler, TopKKeepsExactlyTheKHighest) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 3.0f, 0.5f, 2.5f};
  std::vector<TokenCandidate> c = candidates_of(logits);
  apply_top_k(c, 3);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{3, 5, 1}));

  c = candidates_of(logits);
  apply_top_k(c, 0);  // off
  EXPECT_EQ(c.size(), 6u);
  c = candidates_of(logits);
  apply_top_k(c, 10);  // more than there are
  EXPECT_EQ(c.size(), 6u);

  // Ties at the cut: exactly k survive, lower ids first.
  c = candidates_of({1.0f, 2.0f, 2.0f, 2.0f});
  apply_top_k(c, 2);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{1, 2}));

  // Through the sampler: softmax over logits {3, 2.5, 2}:
  // e^0 = 1, e^-0.5 = 0.606531, e^-1 = 0.367879; sum 1.974410
  // -> 0.506480, 0.307198, 0.186323.
  SamplingParams params = only();
  params.top_k = 3;
  const std::vector<TokenCandidate> dist = Sampler(params).distribution(logits);
  ASSERT_EQ(ids_of(dist), (std::vector<TokenId>{3, 5, 1}));
  EXPECT_NEAR(dist[0].p, 0.506480f, kProbTolerance);
  EXPECT_NEAR(dist[1].p, 0.307198f, kProbTolerance);
  EXPECT_NEAR(dist[2].p, 0.186323f, kProbTolerance);
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (token order 2, 0, 3, 1); cumulative
  // 0.5, 0.8, 0.95, 1.0.
  const std::vector<float> logits = logits_for({0.3, 0.05, 0.5, 0.15});
  const auto kept = [&](float p) {
    std::vector<TokenCandidate> c = candidates_of(logits);
    apply_top_p(c, p);
    return ids_of(c);
  };
  EXPECT_EQ(kept(0.4f), (std::vector<TokenId>{2}));           // 0.5 >= 0.4
  EXPECT_EQ(kept(0.75f), (std::vector<TokenId>{2, 0}));       // 0.5 < 0.75 <= 0.8
  EXPECT_EQ(kept(0.85f), (std::vector<TokenId>{2, 0, 3}));    // 0.8 < 0.85 <= 0.95
  EXPECT_EQ(kept(0.97f), (std::vector<TokenId>{2, 0, 3, 1}));  // needs all
  EXPECT_EQ(kept(1.0f).size(), 4u);                           // off
  EXPECT_EQ(kept(0.0f), (std::vector<TokenId>{2}));           // never empty

  // Renormalised: 0.5 / 0.8 = 0.625 and 0.3 / 0.8 = 0.375.
  SamplingParams params = only();
  params.top_p = 0.75f;
  const std::vector<TokenCandidate> dist = Sampler(params).distribution(logits);
  ASSERT_EQ(dist.size(), 2u);
  EXPECT_NEAR(dist[0].p, 0.625f, kProbTolerance);
  EXPECT_NEAR(dist[1].p, 0.375f, kProbTolerance);
}

TEST(Sampler, MinPIsRelativeToTheMostLikelyToken) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (ids 0..3), shifted logits: min-p
  // compares with p_max, so the absolute level does not matter.
  const std::vector<float> logits = logits_for({0.5, 0.3, 0.15, 0.05}, 11.0);
  const auto kept = [&](float p) {
    std::vector<TokenCandidate> c = candidates_of(logits);
    apply_min_p(c, p);
    return ids_of(c);
  };
  EXPECT_EQ(kept(0.2f), (std::vector<TokenId>{0, 1, 2}));   // threshold 0.1: 0.05 drops
  EXPECT_EQ(kept(0.5f), (std::vector<TokenId>{0, 1}));      // threshold 0.25
  EXPECT_EQ(kept(0.7f), (std::vector<TokenId>{0}));         // threshold 0.35
  EXPECT_EQ(kept(0.05f), (std::vector<TokenId>{0, 1, 2, 3}));  // threshold 0.025
  EXPECT_EQ(kept(0.0f).size(), 4u);                         // off

  // A flatter distribution keeps more at the same min-p: 0.3, 0.25, 0.25, 0.2
  // with min-p 0.7 -> threshold 0.21: 0.2 drops, three stay.
  std::vector<TokenCandidate> flat = candidates_of(logits_for({0.3, 0.25, 0.25, 0.2}));
  apply_min_p(flat, 0.7f);
  EXPECT_EQ(ids_of(flat), (std::vector<TokenId>{0, 1, 2}));
}

TEST(Sampler, TemperatureScalesLogits) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  // t = 2: logits {1, 0.5, 0} -> 0.506480, 0.307198, 0.186323 (as above).
  std::vector<TokenCandidate> dist = Sampler(only(2.0f)).distribution(logits);
  ASSERT_EQ(dist.size(), 3u);
  EXPECT_NEAR(dist[0].p, 0.506480f, kProbTolerance);
  EXPECT_NEAR(dist[1].p, 0.307198f, kProbTolerance);
  EXPECT_NEAR(dist[2].p, 0.186323f, kProbTolerance);
  // t = 0.5: logits {4, 2, 0}: 1, e^-2 = 0.135335, e^-4 = 0.018316; sum
  // 1.153651 -> 0.866813, 0.117310, 0.015876.
  dist = Sampler(only(0.5f)).distribution(logits);
  EXPECT_NEAR(dist[0].p, 0.866813f, kProbTolerance);
  EXPECT_NEAR(dist[1].p, 0.117310f, kProbTolerance);
  EXPECT_NEAR(dist[2].p, 0.015876f, kProbTolerance);
}

TEST(Sampler, TemperatureComesAfterTopPAndMinP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 and temperature 100. In llama.cpp's
  // order top-p sees the t = 1 distribution and keeps two tokens; were the
  // temperature applied first, the distribution would be nearly uniform
  // (~0.25 each) and top-p 0.75 would keep three.
  const std::vector<float> logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplingParams params = only(100.0f);
  params.top_p = 0.75f;
  std::vector<TokenCandidate> dist = Sampler(params).distribution(logits);
  EXPECT_EQ(ids_of(dist), (std::vector<TokenId>{0, 1}));
  // ... and the two survivors are then flattened: logits ln 0.5 / 100 and
  // ln 0.3 / 100 -> p0 = 1 / (1 + (0.6)^(1/100)) = 0.501277.
  EXPECT_NEAR(dist[0].p, 0.501277f, kProbTolerance);

  // Min-p likewise: 0.2 of p_max keeps three tokens at t = 1 (0.05 < 0.1),
  // whereas at t = 100 every token would be within 0.2 of the max.
  params = only(100.0f);
  params.min_p = 0.2f;
  dist = Sampler(params).distribution(logits);
  EXPECT_EQ(ids_of(dist), (std::vector<TokenId>{0, 1, 2}));
}

TEST(Sampler, DefaultsAreLlamaCpps) {
  const SamplingParams params;
  EXPECT_EQ(params.temperature, 0.8f);
  EXPECT_EQ(params.top_k, 40);
  EXPECT_EQ(params.top_p, 0.95f);
  EXPECT_EQ(params.min_p, 0.05f);
}

TEST(Sampler, UniformComesFromTheStandardMersenneTwister) {
  // [rand.predef]: the 10000th output of a default-constructed std::mt19937_64
  // (seed 5489) is 9981545732273789042; the uniform is its top 53 bits / 2^53.
  SamplingParams params = only();
  params.seed = 5489;
  Sampler sampler(params);
  for (int i = 0; i < 9999; ++i) sampler.next_uniform();
  const double expected = static_cast<double>(9981545732273789042ull >> 11) * 0x1.0p-53;
  EXPECT_EQ(sampler.next_uniform(), expected);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(64);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  SamplingParams params;  // defaults: top-k 40, top-p 0.95, min-p 0.05, t 0.8
  params.seed = 1234;
  Sampler a(params);
  Sampler b(params);
  params.seed = 1235;
  Sampler c(params);
  std::vector<TokenId> from_a;
  std::vector<TokenId> from_b;
  std::vector<TokenId> from_c;
  for (int i = 0; i < 200; ++i) {
    from_a.push_back(a.sample(logits));
    from_b.push_back(b.sample(logits));
    from_c.push_back(c.sample(logits));
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

TEST(Sampler, DrawFrequenciesFollowTheDistribution) {
  // p = 0.5, 0.3, 0.2 over 20000 draws: each count is Binomial(n, p) with
  // standard deviation sqrt(n p (1 - p)) <= 70.8; 5 standard deviations is
  // the tolerance (a false failure ~ 1e-6 for a random seed; this seed is fixed).
  const std::vector<double> probs = {0.5, 0.3, 0.2};
  const std::vector<float> logits = logits_for(probs);
  SamplingParams params = only();
  params.seed = 42;
  Sampler sampler(params);
  constexpr int kDraws = 20000;
  std::vector<int> counts(3, 0);
  for (int i = 0; i < kDraws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits))];
  for (size_t t = 0; t < probs.size(); ++t) {
    const double mean = kDraws * probs[t];
    const double sd = std::sqrt(kDraws * probs[t] * (1.0 - probs[t]));
    EXPECT_NEAR(counts[t], mean, 5.0 * sd) << "token " << t;
  }
}

TEST(Sampler, FilteredTokensAreNeverDrawn) {
  // top-k 2 on probabilities 0.4, 0.35, 0.25: token 2 must never come.
  const std::vector<float> logits = logits_for({0.4, 0.35, 0.25});
  SamplingParams params = only();
  params.top_k = 2;
  params.seed = 7;
  Sampler sampler(params);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 2000; ++i) ++counts[static_cast<size_t>(sampler.sample(logits))];
  EXPECT_EQ(counts[2], 0);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
}

TEST(Sampler, RejectsOutOfRangeParameters) {
  const auto error_for = [](SamplingParams params) {
    return test_support::error_of([&] { Sampler sampler(params); });
  };
  SamplingParams params;
  params.temperature = -0.5f;
  EXPECT_NE(error_for(params).find("--temp"), std::string::npos);
  params = SamplingParams();
  params.temperature = NAN;
  EXPECT_NE(error_for(params).find("--temp"), std::string::npos);
  params = SamplingParams();
  params.top_k = -1;
  EXPECT_NE(error_for(params).find("--top-k"), std::string::npos);
  params = SamplingParams();
  params.top_p = 1.5f;
  EXPECT_NE(error_for(params).find("--top-p"), std::string::npos);
  params = SamplingParams();
  params.min_p = -0.1f;
  EXPECT_NE(error_for(params).find("--min-p"), std::string::npos);
}

}  // namespace
}  // namespace pocketllm
