#include "cli/common_flags.h"

namespace pocketllm::cli {

void add_model_flag(CLI::App& command, std::string& model) {
  command.add_option("-m,--model", model, "Model file or folder (default: the embedded stories260K)");
}

void add_threads_flag(CLI::App& command, unsigned& n_threads) {
  command.add_option("-t,--threads", n_threads, "Threads (default: the physical cores)");
}

void add_batch_size_flag(CLI::App& command, uint32_t& n_batch, const std::string& description) {
  command.add_option("-b,--batch-size,--ub,--ubatch-size,--max-num-batched-tokens", n_batch, description)
      ->check(CLI::Range(1u, 1u << 20));
}

}  // namespace pocketllm::cli
