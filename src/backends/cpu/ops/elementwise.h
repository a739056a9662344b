#pragma once
// Element-wise arithmetic over equally long vectors; `out` may alias an input.
//   add:        out = a + b      (residuals, biases)
//   mul:        out = a * b
//   scale:      out = x * s      (embedding scale, routing weights)
//   add_scaled: acc += s * x     (summing weighted expert outputs)
#include <span>

namespace pocketllm::ops {

void add(std::span<const float> a, std::span<const float> b, std::span<float> out);
void mul(std::span<const float> a, std::span<const float> b, std::span<float> out);
void scale(std::span<const float> x, float s, std::span<float> out);
void add_scaled(std::span<const float> x, float s, std::span<float> acc);

}  // namespace pocketllm::ops
