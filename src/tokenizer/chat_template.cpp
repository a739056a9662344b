#include "tokenizer/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "formats/json_file.h"
#include "tokenizer/jinja_template.h"
#include "util/error.h"

namespace pocketllm {

const char* const kChatMlFallbackTemplate =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}\n"
    "{%- if message['content'] is string -%}\n"
    "{{- message['content'] -}}\n"
    "{%- elif message['content'] is iterable -%}\n"
    "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}\n"
    "{%- endif -%}\n"
    "{{- '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";

namespace {

namespace fs = std::filesystem;

// transformers.js passes these special tokens to the template when set.
constexpr const char* kSpecialTokenNames[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                              "pad_token", "cls_token", "mask_token"};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A special token in tokenizer_config.json: a string or {"content": "..."}.
std::string token_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& text, nlohmann::ordered_json special_tokens, std::string name)
    : special_tokens_(std::move(special_tokens)), fallback_(text.empty()) {
  if (!special_tokens_.is_object()) special_tokens_ = nlohmann::ordered_json::object();
  template_ = std::make_shared<const jinja::Template>(
      jinja::Template::parse(fallback_ ? kChatMlFallbackTemplate : text,
                             fallback_ ? "fallback ChatML template" : std::move(name)));
}

ChatTemplate ChatTemplate::with_text(const std::string& text, std::string name) const {
  return ChatTemplate(text, special_tokens_, std::move(name));
}

ChatTemplate ChatTemplate::from_gguf(const GgufFile& gguf, bool for_tools) {
  std::string text;
  std::string key = "tokenizer.chat_template";
  if (for_tools && gguf.find("tokenizer.chat_template.tool_use") != nullptr) key += ".tool_use";
  if (auto value = gguf.get_string(key)) text.assign(*value);
  nlohmann::ordered_json special = nlohmann::ordered_json::object();
  const auto tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  const std::pair<const char*, const char*> ids[] = {
      {"bos_token", "tokenizer.ggml.bos_token_id"},       {"eos_token", "tokenizer.ggml.eos_token_id"},
      {"unk_token", "tokenizer.ggml.unknown_token_id"},   {"sep_token", "tokenizer.ggml.seperator_token_id"},
      {"pad_token", "tokenizer.ggml.padding_token_id"},   {"cls_token", "tokenizer.ggml.cls_token_id"},
      {"mask_token", "tokenizer.ggml.mask_token_id"}};
  for (const auto& [name, id_key] : ids) {
    const auto id = gguf.get_int(id_key);
    // -1 (or its UINT32 form) is how converters write "no such token".
    if (!id || !tokens || *id == -1 || *id == 0xFFFFFFFF) continue;
    if (*id < 0 || static_cast<uint64_t>(*id) >= tokens->size()) {
      throw InputError(gguf.name() + ": key '" + id_key + "': token id " + std::to_string(*id) +
                       " is outside the vocabulary");
    }
    const std::string_view token = (*tokens)[static_cast<size_t>(*id)];
    if (!token.empty()) special[name] = std::string(token);
  }
  return ChatTemplate(text, std::move(special), gguf.name() + ": chat template");
}

ChatTemplate ChatTemplate::from_hf(const std::string& path, bool for_tools) {
  const bool is_dir = fs::is_directory(path);
  const std::string folder = is_dir ? path : fs::path(path).parent_path().string();
  const std::string config_path = is_dir ? (fs::path(path) / "tokenizer_config.json").string() : path;
  nlohmann::json config = nlohmann::json::object();
  if (!is_dir || fs::exists(config_path)) config = load_json_object_file(config_path);
  std::string text;
  std::string name = config_path + ": chat template";
  if (config.contains("chat_template")) {
    const nlohmann::json& value = config["chat_template"];
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_array()) {  // named templates: "default", "tool_use", ...
      for (const auto& entry : value) {
        if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
            !entry["template"].is_string()) {
          throw InputError(config_path + ": key 'chat_template': expected entries {\"name\", \"template\"}");
        }
        const std::string entry_name = entry["name"].is_string() ? entry["name"].get<std::string>() : "";
        if (entry_name == "default" && text.empty()) text = entry["template"].get<std::string>();
        if (entry_name == "tool_use" && for_tools) text = entry["template"].get<std::string>();
      }
    } else if (!value.is_null()) {
      throw InputError(config_path + ": key 'chat_template': expected a string or a list");
    }
  }
  const fs::path jinja_file = fs::path(folder.empty() ? "." : folder) / "chat_template.jinja";
  if (text.empty() && fs::exists(jinja_file)) {
    text = read_text_file(jinja_file.string());
    name = jinja_file.string();
  }
  nlohmann::ordered_json special = nlohmann::ordered_json::object();
  for (const char* token : kSpecialTokenNames) {
    if (!config.contains(token)) continue;
    const std::string value = token_text(config[token]);
    if (!value.empty()) special[token] = value;
  }
  return ChatTemplate(text, std::move(special), std::move(name));
}

ChatTemplate ChatTemplate::from_model(const std::string& path, bool for_tools) {
  if (fs::is_directory(path) || fs::path(path).extension() == ".json") return from_hf(path, for_tools);
  return from_gguf(GgufFile::open(path), for_tools);
}

std::string ChatTemplate::render(const ChatRequest& request) const {
  if (!request.messages.is_array()) throw InputError("chat messages must be a JSON array");
  for (const auto& message : request.messages) {
    if (!message.is_object()) throw InputError("each chat message must be a JSON object");
  }
  if (!request.tools.is_null() && !request.tools.is_array()) throw InputError("tools must be a JSON array");
  if (!request.extra.is_object()) throw InputError("extra template variables must be a JSON object");
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = request.messages;
  context["add_generation_prompt"] = request.add_generation_prompt;
  context["tools"] = request.tools;
  context["documents"] = nullptr;
  for (const auto& [key, value] : special_tokens_.items()) context[key] = value;
  for (const auto& [key, value] : request.extra.items()) context[key] = value;
  return template_->render(context);
}

}  // namespace pocketllm
