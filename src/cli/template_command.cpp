// `pocketllm template [-m MODEL] --messages FILE.json [--add-generation-prompt]
// [--tools FILE.json] [--chat-template-file FILE] [--chat-template-kwargs JSON]`
// prints the prompt the model's chat template makes of a conversation,
// exactly (no newline added). MODEL: a GGUF file (tokenizer.chat_template),
// a Hugging Face folder or its tokenizer_config.json; none: the embedded
// model. A model without a template gets the ChatML fallback.
// FILE.json: a list of messages, or an object {"messages": [...], "tools": [...]}.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "formats/gguf.h"
#include "formats/json_file.h"
#include "model/embedded_model.h"
#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace pocketllm::cli {
namespace {

struct TemplateOptions {
  std::string model;
  std::string messages_file;
  std::string tools_file;
  std::string template_file;
  std::string kwargs_json;
  bool add_generation_prompt = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// JSON keeping its key order (tool schemas print in file order), with the
// project's limits and one-line errors.
nlohmann::ordered_json parse_ordered(const std::string& text, const std::string& where) {
  parse_untrusted_json(text, [&](size_t byte) { return where + ": " + json_line_column(text, byte); });
  return nlohmann::ordered_json::parse(text);
}

void run_template(const TemplateOptions& options) {
  ChatRequest request;
  const nlohmann::ordered_json messages = parse_ordered(read_file(options.messages_file), options.messages_file);
  if (messages.is_object() && messages.contains("messages")) {
    request.messages = messages["messages"];
    if (messages.contains("tools")) request.tools = messages["tools"];
  } else {
    request.messages = messages;
  }
  if (!request.messages.is_array()) {
    throw InputError(options.messages_file + ": expected a list of messages or {\"messages\": [...]}");
  }
  if (!options.tools_file.empty()) {
    request.tools = parse_ordered(read_file(options.tools_file), options.tools_file);
    if (!request.tools.is_array()) throw InputError(options.tools_file + ": expected a list of tools");
  }
  if (!options.kwargs_json.empty()) {
    request.extra = parse_ordered(options.kwargs_json, "--chat-template-kwargs");
    if (!request.extra.is_object()) throw InputError("--chat-template-kwargs: expected a JSON object");
  }
  request.add_generation_prompt = options.add_generation_prompt;

  const bool for_tools = !request.tools.is_null();
  std::unique_ptr<ChatTemplate> chat;
  if (options.model.empty()) {
    const GgufFile embedded = GgufFile::from_memory(embedded_default_model(), std::string(kEmbeddedModelName));
    chat = std::make_unique<ChatTemplate>(ChatTemplate::from_gguf(embedded, for_tools));
  } else {
    chat = std::make_unique<ChatTemplate>(ChatTemplate::from_model(options.model, for_tools));
  }
  if (!options.template_file.empty()) {
    chat = std::make_unique<ChatTemplate>(chat->with_text(read_file(options.template_file), options.template_file));
  }
  const std::string prompt = chat->render(request);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto options = std::make_shared<TemplateOptions>();
  CLI::App* command = app.add_subcommand("template", "Render a conversation with the model's chat template");
  command->add_option("-m,--model", options->model,
                      "GGUF file, Hugging Face folder or tokenizer_config.json (default: the embedded model)");
  command->add_option("--messages", options->messages_file, "JSON file: a list of messages, or {\"messages\", \"tools\"}")
      ->required();
  command->add_option("--tools", options->tools_file, "JSON file: a list of tool definitions");
  command->add_option("--chat-template-file", options->template_file, "Use this Jinja template instead of the model's");
  command->add_option("--chat-template-kwargs", options->kwargs_json,
                      "More template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
  command->add_flag("--add-generation-prompt", options->add_generation_prompt,
                    "End with the opening of the assistant's turn");
  command->callback([options] { run_template(*options); });
}

}  // namespace pocketllm::cli
