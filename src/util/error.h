#pragma once
// Errors caused by input that pocketllm was given (model files, options,
// requests). The CLI prints what() on one line and exits with status 2;
// anything else escaping is a bug.
#include <stdexcept>
#include <string>

namespace pocketllm {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pocketllm
