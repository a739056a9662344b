#pragma once
// Shape checks at op entry: a mismatch is a bug in the caller (the model
// code), never bad user input, so it is std::invalid_argument.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace pocketllm::ops {

inline void check_size(const char* op, const char* what, size_t got, size_t want) {
  if (got != want) {
    throw std::invalid_argument(std::string(op) + ": " + what + " has " + std::to_string(got) +
                                " elements, expected " + std::to_string(want));
  }
}

inline void check_optional_size(const char* op, const char* what, size_t got, size_t want) {
  if (got != 0) check_size(op, what, got, want);
}

}  // namespace pocketllm::ops
