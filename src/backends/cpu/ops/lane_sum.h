#pragma once
// Sums in 16 float lanes: the loop vectorizes without -ffast-math, and the
// order of additions is fixed by n alone (the same on every thread and ISA
// width up to 512 bits), so results do not depend on who computes them.
#include <cstddef>

namespace pocketllm::ops {

inline constexpr size_t kLanes = 16;

inline float reduce_lanes(const float (&acc)[kLanes]) {
  float pairs[kLanes / 2];
  for (size_t i = 0; i < kLanes / 2; ++i) pairs[i] = acc[i] + acc[i + kLanes / 2];
  float quads[kLanes / 4];
  for (size_t i = 0; i < kLanes / 4; ++i) quads[i] = pairs[i] + pairs[i + kLanes / 4];
  return (quads[0] + quads[2]) + (quads[1] + quads[3]);
}

}  // namespace pocketllm::ops
