// `pocketllm gen --arch llama --preset tinyllama-1.1b --type q4_0 --vocab VOCAB.gguf -o FILE.gguf [--seed S] [--n-layers N]`
// writes a random-weight model at a published model's shapes (see
// tools/random_model.h), loadable by llama.cpp: for benchmarks and tests.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "formats/ggml_types.h"
#include "tools/random_model.h"
#include "util/error.h"

namespace pocketllm::cli {
namespace {

struct GenOptions {
  std::string arch = "llama";
  std::string preset;
  std::string type = "q4_0";
  std::string vocab;
  std::string output;
  uint64_t seed = 1;
  uint32_t n_layers = 0;  // 0: the preset's
  bool list = false;
};

void run_gen(const GenOptions& options) {
  if (options.list) {
    for (const auto& p : random_model_presets()) {
      std::printf("%-16s %s: n_embd %u, %u layers, %u heads, %u KV heads, ff %u, vocab %s\n",
                  std::string(p.name).c_str(), std::string(p.description).c_str(), p.n_embd, p.n_layers, p.n_heads,
                  p.n_kv_heads, p.n_ff, p.vocab_size ? std::to_string(p.vocab_size).c_str() : "of --vocab");
    }
    return;
  }
  if (options.preset.empty() || options.output.empty() || options.vocab.empty()) {
    throw InputError("gen: --preset, --vocab and -o are required (--list-presets shows the presets)");
  }
  std::string type_name = options.type;
  std::transform(type_name.begin(), type_name.end(), type_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const std::optional<QuantMix> mix = quant_mix_from_name(type_name);
  const std::optional<GgmlType> type = ggml_type_from_name(type_name);
  if (!type && !mix) {
    throw InputError(fmt::format("gen: unknown tensor type '{}' (supported: {})", options.type, kRandomModelTypes));
  }

  RandomModelOptions model;
  model.arch = options.arch;
  model.preset = options.preset;
  if (mix) {
    model.mix = *mix;
  } else {
    model.type = *type;
  }
  model.seed = options.seed;
  model.vocab_path = options.vocab;
  if (options.n_layers != 0) model.n_layers = options.n_layers;
  write_random_model(model, options.output);
  std::fprintf(stderr, "pocketllm: wrote %s (%s, %s, seed %llu)\n", options.output.c_str(), options.preset.c_str(),
               type_name.c_str(), static_cast<unsigned long long>(options.seed));
}

}  // namespace

void add_gen_command(CLI::App& app) {
  auto options = std::make_shared<GenOptions>();
  CLI::App* command = app.add_subcommand("gen", "Write a random-weight GGUF model at a real model's shapes");
  command->add_option("--arch", options->arch, "Architecture (llama)");
  command->add_option("--preset", options->preset, "Shapes to use (--list-presets)");
  command->add_option("--type", options->type,
                      "Type of the weight matrices: " + std::string(kRandomModelTypes) +
                          " (q4_k_m / q5_k_m: llama.cpp's mixes, with Q6_K for output, some attn_v and ffn_down)");
  command->add_option("--vocab", options->vocab,
                      "GGUF file whose tokenizer is copied (e.g. llama.cpp's ggml-vocab-llama-spm.gguf)");
  command->add_option("-o,--output", options->output, "Output GGUF file");
  command->add_option("--seed", options->seed, "Random seed (default 1)");
  command->add_option("--n-layers", options->n_layers, "Number of blocks (default: the preset's)");
  command->add_flag("--list-presets", options->list, "List the presets and exit");
  command->callback([options] { run_gen(*options); });
}

}  // namespace pocketllm::cli
