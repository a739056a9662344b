#pragma once
// Chat templates: a model's Jinja2 template (GGUF `tokenizer.chat_template`,
// or `chat_template` in a Hugging Face tokenizer_config.json, or a
// chat_template.jinja beside it) rendered into the prompt text, with the
// variables transformers.js's apply_chat_template passes:
//   messages, add_generation_prompt, tools (null when none), documents
//   (null), the model's special tokens that are set (bos_token, eos_token,
//   unk_token, sep_token, pad_token, cls_token, mask_token), then any extra
//   keyword arguments (e.g. {"enable_thinking": false}), which win on a clash.
// Messages are OpenAI-style objects: role (system/user/assistant/tool),
// content (a string, null, or a list of parts such as {"type":"text",...}),
// and, where the template uses them, tool_calls, tool_call_id, name,
// reasoning_content.
//
// Fallback when the model has no template: ChatML, the format transformers
// used as its default chat template and llama.cpp uses when it has none:
//   <|im_start|>{role}\n{content}<|im_end|>\n ... [<|im_start|>assistant\n]
// (content parts of type "text" are concatenated; tools are not shown).
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"

namespace pocketllm {

namespace jinja {
class Template;
}

// What to render: a conversation and its options.
struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools = nullptr;  // null, or a list of tool definitions
  bool add_generation_prompt = false;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // more template variables
};

class ChatTemplate {
 public:
  // `text` empty: the ChatML fallback. `special_tokens` maps names such as
  // "bos_token" to their text. `name` prefixes error messages. Throws
  // InputError naming the line when the template does not parse.
  ChatTemplate(const std::string& text, nlohmann::ordered_json special_tokens, std::string name);

  // The template of a GGUF file (tool_use variant when `for_tools` and the
  // file has one) with its BOS/EOS/... token texts.
  static ChatTemplate from_gguf(const GgufFile& gguf, bool for_tools = false);
  // The template of a Hugging Face folder (tokenizer_config.json, and
  // chat_template.jinja when the config has none) or of a
  // tokenizer_config.json file given directly.
  static ChatTemplate from_hf(const std::string& path, bool for_tools = false);
  // A GGUF file, a Hugging Face folder, or a tokenizer_config.json.
  static ChatTemplate from_model(const std::string& path, bool for_tools = false);

  bool is_fallback() const { return fallback_; }
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }
  // The same special tokens with another template text (--chat-template-file).
  ChatTemplate with_text(const std::string& text, std::string name) const;

  // Renders `request`. Throws InputError (bad messages, the template's
  // raise_exception, anything unsupported) naming the template line.
  std::string render(const ChatRequest& request) const;

 private:
  std::shared_ptr<const jinja::Template> template_;
  nlohmann::ordered_json special_tokens_;
  bool fallback_ = false;
};

// The ChatML fallback template text.
extern const char* const kChatMlFallbackTemplate;

}  // namespace pocketllm
