#pragma once
// Softmax over one row of logits, in place, max-subtracted (so -inf entries,
// e.g. masked keys, become exactly 0; a row must hold at least one finite
// value). The fast version uses exp_approx (2 ulp) and 16-lane sums.
//
//   softmax:           p_i = e^(x_i - m) / sum_j e^(x_j - m)
//   softmax_with_sink: the row is extended by one learned logit s (gpt-oss
//                      attention sinks) that takes part in the normalisation
//                      and is then dropped: p_i = e^x_i / (e^s + sum_j e^x_j)
//   soft_cap:          x = cap * tanh(x / cap) (Gemma 2 attention and final
//                      logits), applied before masking / softmax
#include <cstddef>
#include <span>

namespace pocketllm::ops {

void softmax(std::span<float> x);
void softmax_with_sink(std::span<float> x, float sink);
void soft_cap(std::span<float> x, float cap);

// The pieces, also used by paged attention's online softmax: the largest of
// x[0 .. n), and x_i = e^(x_i - m) in place returning their sum (16-lane
// partial sums, so the loops vectorize).
float max_of(const float* x, size_t n);
float exp_shifted_sum(float* x, size_t n, float m);

void softmax_reference(std::span<float> x);
void softmax_with_sink_reference(std::span<float> x, float sink);

}  // namespace pocketllm::ops
