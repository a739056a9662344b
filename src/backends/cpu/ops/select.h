#pragma once
// Choosing entries of a row of scores: greedy sampling and MoE routing.
// Ties go to the lower index (so results do not depend on scan order), and
// NaN never wins.
#include <cstddef>
#include <span>

namespace pocketllm::ops {

// Index of the largest value; throws std::invalid_argument on an empty row.
size_t argmax(std::span<const float> x);

// The k = indices.size() largest values, largest first, with their indices;
// O(n log k) and no allocation. Throws InputError when k exceeds x.size()
// (k comes from model metadata: experts used per token, sampling top_k).
void top_k(std::span<const float> x, std::span<size_t> indices, std::span<float> values);

}  // namespace pocketllm::ops
