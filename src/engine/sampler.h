#pragma once
// Next-token sampling with llama.cpp's sampler chain (common/sampling.cpp,
// src/llama-sampling.cpp), in its default order and with its semantics:
//
//   top-k -> top-p -> min-p -> temperature -> draw
//
//   top-k (k <= 0: off)       keep the k highest logits.
//   top-p (p >= 1: off)       softmax over the remaining candidates; keep the
//                             smallest prefix (by probability) whose mass
//                             reaches p.
//   min-p (p <= 0: off)       keep candidates with prob >= p * max prob, i.e.
//                             logit >= max logit + log(p).
//   temperature (t <= 0: greedy) divide the logits by t. Because it comes
//                             last, top-p and min-p see the t = 1
//                             distribution, as in llama.cpp.
//   draw                      softmax, then inverse-CDF with a uniform from
//                             the seeded generator.
//
// Temperature <= 0 is greedy: the argmax of the raw logits (lowest id on a
// tie), with no filter and no random number drawn.
//
// Determinism: the generator is std::mt19937_64 (its output sequence is fixed
// by the C++ standard) and the uniform is built from its top 53 bits here, not
// with std::uniform_real_distribution (whose algorithm is library-defined), so
// a seed gives the same tokens with any compiler. Candidates are ordered by
// (logit descending, id ascending), a total order, so ties never depend on the
// sort algorithm.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketllm {

// Defaults are llama.cpp's (common_params_sampling).
struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  uint64_t seed = 0;
};

// Throws InputError naming the option when a value is out of range:
// temperature finite and >= 0, top_k >= 0, top_p and min_p in [0, 1].
void validate_sampling_params(const SamplingParams& params);

// One candidate token. `p` is meaningful only after softmax_candidates.
struct TokenCandidate {
  TokenId id = 0;
  float logit = 0.0f;
  float p = 0.0f;
};

// The stages, each acting on a candidate list in place (exposed for tests).
// All but apply_temperature leave the list sorted by (logit desc, id asc).
void sort_candidates(std::vector<TokenCandidate>& candidates);
// Sorts, then sets p = softmax(logit) over the list.
void softmax_candidates(std::vector<TokenCandidate>& candidates);
void apply_top_k(std::vector<TokenCandidate>& candidates, int32_t k);
void apply_top_p(std::vector<TokenCandidate>& candidates, float p);
void apply_min_p(std::vector<TokenCandidate>& candidates, float p);
void apply_temperature(std::vector<TokenCandidate>& candidates, float temperature);

// Index of the largest value; the first one on a tie.
TokenId argmax(std::span<const float> logits);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  const SamplingParams& params() const { return params_; }
  bool is_greedy() const { return params_.temperature <= 0.0f; }

  // The distribution the next draw uses: the chain applied to `logits`,
  // sorted by probability (descending), probabilities summing to 1. Greedy:
  // the argmax alone with p = 1.
  std::vector<TokenCandidate> distribution(std::span<const float> logits) const;

  // Draws the next token from `logits` (one row of vocab_size floats).
  TokenId sample(std::span<const float> logits);

  // A uniform double in [0, 1) from the next 64-bit output (53 bits used).
  double next_uniform();

 private:
  void build_distribution(std::span<const float> logits, std::vector<TokenCandidate>& out) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<TokenCandidate> scratch_;  // reused between calls: no allocation per token
};

}  // namespace pocketllm
