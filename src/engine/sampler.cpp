#include "engine/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "util/error.h"

namespace pocketllm {
namespace {

bool comes_before(const TokenCandidate& a, const TokenCandidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

bool is_sorted_candidates(const std::vector<TokenCandidate>& candidates) {
  return std::is_sorted(candidates.begin(), candidates.end(), comes_before);
}

}  // namespace

void validate_sampling_params(const SamplingParams& params) {
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
    throw InputError(fmt::format("--temp: {} is not a temperature >= 0", params.temperature));
  }
  if (params.top_k < 0) throw InputError(fmt::format("--top-k: {} is negative (0 turns top-k off)", params.top_k));
  if (!(params.top_p >= 0.0f && params.top_p <= 1.0f)) {
    throw InputError(fmt::format("--top-p: {} is not in [0, 1] (1 turns top-p off)", params.top_p));
  }
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) {
    throw InputError(fmt::format("--min-p: {} is not in [0, 1] (0 turns min-p off)", params.min_p));
  }
}

void sort_candidates(std::vector<TokenCandidate>& candidates) {
  if (!is_sorted_candidates(candidates)) std::sort(candidates.begin(), candidates.end(), comes_before);
}

void softmax_candidates(std::vector<TokenCandidate>& candidates) {
  sort_candidates(candidates);
  if (candidates.empty()) return;
  const float max_logit = candidates.front().logit;
  double sum = 0.0;
  for (TokenCandidate& c : candidates) {
    c.p = std::exp(c.logit - max_logit);
    sum += static_cast<double>(c.p);
  }
  for (TokenCandidate& c : candidates) c.p = static_cast<float>(static_cast<double>(c.p) / sum);
}

void apply_top_k(std::vector<TokenCandidate>& candidates, int32_t k) {
  if (k <= 0) return;
  const auto keep = static_cast<size_t>(k);
  if (keep < candidates.size()) {
    // Only the k best need ordering: O(n log k), not a full sort of the vocabulary.
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                      comes_before);
    candidates.resize(keep);
  } else {
    sort_candidates(candidates);
  }
}

void apply_top_p(std::vector<TokenCandidate>& candidates, float p) {
  if (p >= 1.0f || candidates.empty()) return;
  softmax_candidates(candidates);
  double mass = 0.0;
  size_t keep = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    mass += static_cast<double>(candidates[i].p);
    if (mass >= static_cast<double>(p)) {
      keep = i + 1;
      break;
    }
  }
  candidates.resize(keep);
}

void apply_min_p(std::vector<TokenCandidate>& candidates, float p) {
  if (p <= 0.0f || candidates.empty()) return;
  float max_logit = candidates.front().logit;
  for (const TokenCandidate& c : candidates) max_logit = std::max(max_logit, c.logit);
  // p_i >= p * p_max  <=>  logit_i >= max_logit + log(p): no softmax needed.
  const float min_logit = max_logit + std::log(p);
  std::erase_if(candidates, [min_logit](const TokenCandidate& c) { return c.logit < min_logit; });
  sort_candidates(candidates);
}

void apply_temperature(std::vector<TokenCandidate>& candidates, float temperature) {
  if (candidates.empty()) return;
  if (temperature <= 0.0f) {
    // llama.cpp: only the highest logit survives.
    sort_candidates(candidates);
    candidates.resize(1);
    return;
  }
  for (TokenCandidate& c : candidates) c.logit /= temperature;
}

TokenId argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<TokenId>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  validate_sampling_params(params_);
}

void Sampler::build_distribution(std::span<const float> logits, std::vector<TokenCandidate>& out) const {
  out.clear();
  if (is_greedy()) {
    out.push_back({argmax(logits), logits[static_cast<size_t>(argmax(logits))], 1.0f});
    return;
  }
  out.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out.push_back({static_cast<TokenId>(i), logits[i], 0.0f});
  apply_top_k(out, params_.top_k);
  apply_top_p(out, params_.top_p);
  apply_min_p(out, params_.min_p);
  apply_temperature(out, params_.temperature);
  softmax_candidates(out);
}

std::vector<TokenCandidate> Sampler::distribution(std::span<const float> logits) const {
  std::vector<TokenCandidate> out;
  if (!logits.empty()) build_distribution(logits, out);
  return out;
}

double Sampler::next_uniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

TokenId Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("Sampler::sample: empty logits");
  if (is_greedy()) return argmax(logits);
  build_distribution(logits, scratch_);
  const double u = next_uniform();
  double cumulative = 0.0;
  for (const TokenCandidate& c : scratch_) {
    cumulative += static_cast<double>(c.p);
    if (u < cumulative) return c.id;
  }
  return scratch_.back().id;  // u beyond the rounded total mass
}

}  // namespace pocketllm
