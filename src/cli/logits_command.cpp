// `pocketllm logits [-m MODEL] --tokens 1,2,3 --out FILE.npy
// [--kv-cache-dtype f16|bf16|q8|q4|f32] [-ctk T] [-ctv T] [--greedy N] [-b|--max-num-batched-tokens N] [-t THREADS]`
//
// Runs the token ids through the model (prefill in chunks of -b tokens,
// default 512) and writes the float32 logits of every position as an
// [n_tokens, n_vocab] NumPy file (what tests compare with reference logits),
// chunk by chunk: memory holds one chunk's logits, not the whole array. With --greedy N it then generates N tokens
// greedily through the incremental decode path (one token per forward,
// reading the KV cache), with no stop at end-of-text tokens, and prints
// {"greedy": [ids...]} as the last line of stdout.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/kv_cache_flags.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "util/error.h"
#include "util/npy_writer.h"

namespace pocketllm::cli {
namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  KvCacheFlags kv_cache;
  int32_t greedy = 0;
  uint32_t n_batch = 512;
  unsigned n_threads = 0;
};

// "1,2, 3" -> {1, 2, 3}; InputError naming the bad item.
std::vector<TokenId> parse_token_list(const std::string& text) {
  std::vector<TokenId> ids;
  size_t begin = 0;
  for (;;) {
    const size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    const size_t first = item.find_first_not_of(" \t");
    const size_t last = item.find_last_not_of(" \t");
    item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
    char* parse_end = nullptr;
    errno = 0;
    const long long value = item.empty() ? 0 : std::strtoll(item.c_str(), &parse_end, 10);
    if (item.empty() || parse_end != item.c_str() + item.size() || errno != 0 || value < 0 ||
        value > std::numeric_limits<TokenId>::max()) {
      throw InputError(fmt::format("--tokens: '{}' is not a token id (expected a list such as 1,2,3)", item));
    }
    ids.push_back(static_cast<TokenId>(value));
    if (end == text.size()) break;
    begin = end + 1;
  }
  return ids;
}

void run_logits(const LogitsOptions& options) {
  const std::vector<TokenId> tokens = parse_token_list(options.tokens);
  const KvCacheTypes kv_types = kv_cache_types_from_flags(options.kv_cache);
  if (options.greedy < 0) throw InputError(fmt::format("--greedy: {} is negative", options.greedy));

  ModelLoadOptions load_options;
  load_options.n_threads = options.n_threads;
  std::unique_ptr<Model> model = Model::load(options.model, load_options);
  const uint32_t vocab = model->desc().vocab_size;
  const uint32_t n_ctx = static_cast<uint32_t>(tokens.size()) + static_cast<uint32_t>(options.greedy);
  std::unique_ptr<PagedKvCache> cache = make_single_sequence_cache(model->desc(), n_ctx, kv_types);

  // No tokenizer: the ids are the model's, and greedy runs the full N.
  Generator generator(*model, *cache, n_ctx, nullptr);
  // Every id is checked before the file is opened, so bad input leaves no file.
  for (const TokenId id : tokens) {
    if (static_cast<uint32_t>(id) >= vocab) {
      throw InputError(fmt::format("token id {} is outside the vocabulary (0..{})", id, vocab - 1));
    }
  }
  const std::vector<size_t> shape = {tokens.size(), vocab};
  NpyF32Writer npy(options.out, shape);
  const std::span<const TokenId> all(tokens);
  try {
    for (size_t begin = 0; begin < all.size(); begin += options.n_batch) {
      const size_t n = std::min<size_t>(options.n_batch, all.size() - begin);
      npy.append(generator.feed(all.subspan(begin, n), true));
    }
    npy.finish();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(options.out, ignored);  // no half-written array
    throw;
  }
  std::fprintf(stderr, "logits: wrote %s [%zu, %u] (KV cache %s)\n", options.out.c_str(), tokens.size(), vocab,
               kv_cache_types_name(kv_types).c_str());

  if (options.greedy > 0) {
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    Sampler sampler(greedy);
    const GenerationResult result = generator.generate(sampler, options.greedy);
    const std::string line = nlohmann::json{{"greedy", result.tokens}}.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto options = std::make_shared<LogitsOptions>();
  CLI::App* command =
      app.add_subcommand("logits", "Write the logits of every position of a token sequence as a .npy file");
  add_model_flag(*command, options->model);
  command->add_option("--tokens", options->tokens, "Token ids, comma-separated: 1,2,3")->required();
  command->add_option("--out", options->out, "Output .npy file: float32 [n_tokens, n_vocab]")->required();
  add_kv_cache_flags(*command, options->kv_cache);
  command->add_option("--greedy", options->greedy,
                      "Then generate N tokens greedily (incremental decode) and print {\"greedy\": [ids]}");
  add_batch_size_flag(*command, options->n_batch, "Tokens per forward call (chunked prefill; default 512)");
  add_threads_flag(*command, options->n_threads);
  command->callback([options] { run_logits(*options); });
}

}  // namespace pocketllm::cli
