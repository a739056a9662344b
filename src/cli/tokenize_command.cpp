// `pocketllm tokenize [-m MODEL] [--special] [--no-bos] [--ids] [--json] TEXT`
// with llama-tokenize's conventions: one line per token `   id -> 'piece'`
// (pieces with special tokens rendered), or `[1, 2, 3]` with --ids, or
// [{"id":..,"piece":..}] with --json. --special parses special-token text
// such as "<s>"; --no-bos drops the BOS (and EOS) the model would add.
// MODEL is a GGUF file or a Hugging Face model folder (its tokenizer.json).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "formats/gguf.h"
#include "model/embedded_model.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool special = false;
  bool no_bos = false;
  bool ids = false;
  bool json = false;
};

Tokenizer load_tokenizer(const std::string& model) {
  if (!model.empty() && std::filesystem::is_directory(model)) return Tokenizer::from_hf_dir(model);
  const GgufFile file = model.empty() ? GgufFile::from_memory(embedded_default_model(), std::string(kEmbeddedModelName))
                                      : GgufFile::open(model);
  return Tokenizer::from_gguf(file);
}

void run_tokenize(const TokenizeOptions& options) {
  const Tokenizer tokenizer = load_tokenizer(options.model);
  const std::vector<TokenId> ids = tokenizer.encode(options.text, !options.no_bos, options.special);

  std::string out;
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (TokenId id : ids) list.push_back({{"id", id}, {"piece", tokenizer.piece(id, true)}});
    out = list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (options.ids) {
    out = fmt::format("[{}]\n", fmt::join(ids, ", "));
  } else {
    for (TokenId id : ids) {
      const std::string piece = tokenizer.piece(id, true);
      const bool valid = to_valid_utf8(piece) == piece;
      out += fmt::format("{:6} -> '{}'{}\n", id, piece, valid ? "" : " (UTF-8 decode failure)");
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Print the token ids (and pieces) of TEXT");
  command->add_option("-m,--model", options->model, "GGUF model file or Hugging Face model folder (default: the embedded stories260K)");
  command->add_flag("--special", options->special, "Parse special-token text such as <s> into special tokens");
  command->add_flag("--no-bos", options->no_bos, "Do not add the BOS (or EOS) token the model adds by default");
  command->add_flag("--ids", options->ids, "Print only the ids, as [1, 2, 3]");
  command->add_flag("--json", options->json, "Print [{\"id\": ..., \"piece\": ...}]");
  command->add_option("text", options->text, "Text to tokenize")->required();
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace pocketllm::cli
