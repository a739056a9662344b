// `pocketllm perplexity [-m MODEL] -f TEXT [-c N_CTX] [-b|--max-num-batched-tokens N] [--chunks N]
// [--kv-cache-dtype f16|bf16|q8|q4|f32] [-ctk T] [-ctv T] [-t THREADS]`
//
// llama-perplexity's method and output (see engine/perplexity.h): running
// values "[1]12.3456,[2]11.9876,..." on one line of stdout, then
//   Final estimate: PPL = 11.9876 +/- 0.12345
// Progress and setup go to stderr.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/kv_cache_flags.h"
#include "engine/generator.h"
#include "engine/perplexity.h"
#include "model/embedded_model.h"
#include "model/model.h"
#include "util/error.h"
#include "util/text_file.h"

namespace pocketllm::cli {
namespace {

struct PerplexityCommandOptions {
  std::string model;
  std::string text_file;
  uint32_t n_ctx = 512;
  uint32_t n_batch = 512;
  size_t max_chunks = 0;
  KvCacheFlags kv_cache;
  unsigned n_threads = 0;
};

void write_stdout(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void run_perplexity(const PerplexityCommandOptions& options) {
  const KvCacheTypes kv_types = kv_cache_types_from_flags(options.kv_cache);
  if (options.n_batch == 0) throw InputError("-b: the batch size must be at least 1");
  const auto text = read_text_file(options.text_file);
  if (!text) throw InputError(options.text_file + ": cannot read the text file");

  ModelLoadOptions load_options;
  load_options.n_threads = options.n_threads;
  std::unique_ptr<Model> model = Model::load(options.model, load_options);
  const Tokenizer* tokenizer = model->tokenizer();
  if (tokenizer == nullptr) throw InputError("the model has no tokenizer; perplexity needs one to read the text");

  const auto start = std::chrono::steady_clock::now();
  // As llama-perplexity: the model's special tokens (BOS) added, special-token text not parsed.
  const std::vector<TokenId> tokens = tokenizer->encode(*text, true, false);
  const Vocab& vocab = tokenizer->vocab();
  const TokenId bos = vocab.add_bos ? vocab.bos : kNoToken;

  PerplexityOptions ppl_options;
  ppl_options.n_ctx = options.n_ctx;
  ppl_options.n_batch = options.n_batch;
  ppl_options.max_chunks = options.max_chunks;
  size_t n_chunks = tokens.size() / options.n_ctx;
  if (options.max_chunks > 0) n_chunks = std::min(n_chunks, options.max_chunks);
  std::fprintf(stderr,
               "perplexity: %zu tokens; calculating perplexity over %zu chunks, n_ctx=%u, batch size %u, "
               "KV cache %s\n",
               tokens.size(), n_chunks, options.n_ctx, options.n_batch,
               kv_cache_types_name(kv_types).c_str());
  std::unique_ptr<PagedKvCache> cache = make_single_sequence_cache(model->desc(), options.n_ctx, kv_types);
  const PerplexityResult result =
      evaluate_perplexity(*model, *cache, tokens, bos, ppl_options, [](size_t chunk, double ppl) {
        write_stdout(fmt::format("[{}]{:.4f},", chunk, ppl));
      });
  write_stdout("\n");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "perplexity: %zu tokens scored in %.2f s\n", result.stats.count(), seconds);

  const double error = result.stats.perplexity_error();
  if (std::isnan(error)) {
    write_stdout("Unexpected negative standard deviation of log(prob)\n");
  } else {
    write_stdout(fmt::format("Final estimate: PPL = {:.4f} +/- {:.5f}\n", result.stats.perplexity(), error));
  }
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto options = std::make_shared<PerplexityCommandOptions>();
  CLI::App* command =
      app.add_subcommand("perplexity", "Perplexity of a text file (llama-perplexity's method and output)");
  add_model_flag(*command, options->model);
  command->add_option("-f,--file", options->text_file, "Text file to score")->required();
  command->add_option("-c,--ctx-size", options->n_ctx, "Tokens per chunk (default 512)")
      ->check(CLI::Range(4u, 1u << 24));
  command->add_option("--chunks", options->max_chunks, "Score at most this many chunks (default: all)");
  add_batch_size_flag(*command, options->n_batch, "Tokens per forward call (chunked prefill; default 512)");
  add_kv_cache_flags(*command, options->kv_cache);
  add_threads_flag(*command, options->n_threads);
  command->callback([options] { run_perplexity(*options); });
}

}  // namespace pocketllm::cli
