#pragma once
// Options that several commands share (run, logits, perplexity; bench takes
// -m too), so that their spellings and help stay alike.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace pocketllm::cli {

// -m,--model: a model file or folder; empty (the default) is the embedded model.
void add_model_flag(CLI::App& command, std::string& model);

// -t,--threads: 0 (the default) is the physical cores.
void add_threads_flag(CLI::App& command, unsigned& n_threads);

// -b and its llama.cpp (--ub, --ubatch-size) and vLLM (--max-num-batched-tokens)
// spellings: tokens per forward call (chunked prefill), 1 to 2^20.
void add_batch_size_flag(CLI::App& command, uint32_t& n_batch, const std::string& description);

}  // namespace pocketllm::cli
