#include "backends/cpu/ops/select.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "backends/cpu/ops/check.h"
#include "util/error.h"

namespace pocketllm::ops {
namespace {

// Whether (va, ia) ranks before (vb, ib): larger value, then lower index; NaN last.
bool ranks_before(float va, size_t ia, float vb, size_t ib) {
  if (va > vb) return true;
  if (va < vb) return false;
  if (va == vb) return ia < ib;
  // at least one NaN
  if (va != va && vb != vb) return ia < ib;
  return vb != vb;
}

}  // namespace

size_t argmax(std::span<const float> x) {
  if (x.empty()) throw std::invalid_argument("argmax: empty row");
  size_t best = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (ranks_before(x[i], i, x[best], best)) best = i;
  }
  return best;
}

void top_k(std::span<const float> x, std::span<size_t> indices, std::span<float> values) {
  const size_t k = indices.size();
  check_size("top_k", "values", values.size(), k);
  if (k > x.size()) {
    throw InputError("top-k of " + std::to_string(k) + " from only " + std::to_string(x.size()) +
                     " values");
  }
  if (k == 0) return;
  // indices[0, k) is a heap whose top is the worst kept entry.
  const auto worse_on_top = [&x](size_t a, size_t b) { return ranks_before(x[a], a, x[b], b); };
  for (size_t i = 0; i < k; ++i) indices[i] = i;
  std::make_heap(indices.begin(), indices.end(), worse_on_top);
  for (size_t i = k; i < x.size(); ++i) {
    if (ranks_before(x[i], i, x[indices[0]], indices[0])) {
      std::pop_heap(indices.begin(), indices.end(), worse_on_top);
      indices[k - 1] = i;
      std::push_heap(indices.begin(), indices.end(), worse_on_top);
    }
  }
  std::sort_heap(indices.begin(), indices.end(), worse_on_top);
  for (size_t i = 0; i < k; ++i) values[i] = x[indices[i]];
}

}  // namespace pocketllm::ops
