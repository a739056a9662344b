#pragma once
// Inputs shared by the matmul tests (header-only).
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace pocketllm::test_support {

// n x k activations in [-2, 2], never zero or constant; the magnitude
// changes every 32 elements (0.05 or 2) to exercise per-block scales.
inline std::vector<float> random_activations(int64_t n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * k));
  for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng) * ((i / 32) % 3 == 0 ? 0.05f : 2.0f);
  return x;
}

}  // namespace pocketllm::test_support
