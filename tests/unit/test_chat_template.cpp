// Chat templates against the reference renderer, @huggingface/jinja (what
// transformers.js's apply_chat_template uses), run live with node from
// tests/js (installed by scripts/test.sh with `npm ci`): the real templates
// of Llama 3, Qwen3, Gemma 3, DeepSeek-V3 and the one embedded in llama.cpp's
// phi-3 vocab GGUF, on every conversation of conversations.json; outputs must
// be byte-identical, and where the reference fails pocketllm must fail too.
// Also the `pocketllm template` command, run as a binary.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

const std::string kDataDir = std::string(POCKETLLM_TEST_DATA_DIR) + "/chat_templates";
const std::string kJsDir = std::string(POCKETLLM_TEST_DATA_DIR) + "/../js";

struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

CommandResult run_command(const std::string& command, const std::string& name) {
  const fs::path err_path = fs::temp_directory_path() / ("pocketllm_chat_template_" + name + ".err");
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>" + err_path.string()).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream err(err_path);
  std::ostringstream err_text;
  err_text << err.rdbuf();
  result.err = err_text.str();
  fs::remove(err_path);
  return result;
}

nlohmann::ordered_json read_ordered(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::ordered_json::parse(in);
}

// The reference's renderings, by conversation name: {"output"} or {"error"}.
std::map<std::string, nlohmann::json> oracle(const std::string& model, const std::string& conversations_path) {
  if (!fs::exists(kJsDir + "/node_modules/@huggingface/jinja")) {
    ADD_FAILURE() << "tests/js/node_modules is missing: run scripts/test.sh (or `npm ci` in tests/js)";
    return {};
  }
  const std::string command = "node " + kJsDir + "/render_chat_templates.mjs " + kDataDir + "/" + model +
                              "/tokenizer_config.json " + conversations_path;
  const CommandResult result = run_command(command, model + "_oracle");
  EXPECT_EQ(result.status, 0) << command << "\n" << result.err;
  std::map<std::string, nlohmann::json> by_name;
  if (result.status != 0) return by_name;
  for (const auto& entry : nlohmann::json::parse(result.out)) by_name[entry["name"]] = entry;
  return by_name;
}

ChatRequest request_of(const nlohmann::ordered_json& conversation) {
  ChatRequest request;
  request.messages = conversation["messages"];
  request.add_generation_prompt = conversation.value("add_generation_prompt", false);
  if (conversation.contains("tools")) request.tools = conversation["tools"];
  if (conversation.contains("extra")) request.extra = conversation["extra"];
  return request;
}

// Renders every conversation with `chat` and compares with the reference;
// returns how many rendered (not failed) in both.
int compare_with_oracle(const ChatTemplate& chat, const std::string& model) {
  const std::string conversations_path = kDataDir + "/conversations.json";
  const auto expected = oracle(model, conversations_path);
  const nlohmann::ordered_json conversations = read_ordered(conversations_path);
  EXPECT_EQ(expected.size(), conversations.size());
  int rendered = 0;
  for (const auto& conversation : conversations) {
    const std::string name = conversation["name"];
    auto it = expected.find(name);
    if (it == expected.end()) continue;
    const nlohmann::json& reference = it->second;
    std::string output;
    std::string error;
    try {
      output = chat.render(request_of(conversation));
    } catch (const InputError& e) {
      error = e.what();
    }
    if (reference.contains("output")) {
      EXPECT_EQ(error, "") << model << " / " << name;
      EXPECT_EQ(output, reference["output"].get<std::string>()) << model << " / " << name;
      if (error.empty()) ++rendered;
    } else {
      EXPECT_NE(error, "") << model << " / " << name << ": the reference fails with '"
                           << reference["error"].get<std::string>() << "' but pocketllm rendered:\n" << output;
      // The template's own raise_exception message reaches the user unchanged.
      if (error.find("raise_exception: ") != std::string::npos) {
        EXPECT_NE(error.find(reference["error"].get<std::string>()), std::string::npos) << error;
      }
    }
  }
  return rendered;
}

class RealChatTemplates : public ::testing::TestWithParam<std::string> {};

TEST_P(RealChatTemplates, MatchTheReferenceRendererOnEveryConversation) {
  const std::string model = GetParam();
  const ChatTemplate chat = ChatTemplate::from_hf(kDataDir + "/" + model);
  ASSERT_FALSE(chat.is_fallback());
  const int rendered = compare_with_oracle(chat, model);
  EXPECT_GE(rendered, 20) << "too few conversations render with " << model;
}

INSTANTIATE_TEST_SUITE_P(Models, RealChatTemplates,
                         ::testing::Values("llama3", "qwen3", "gemma3", "deepseek_v3", "phi3"));

// A GGUF with the phi-3 vocab's metadata (its template, and <unk> <s> at 0
// and 1, <|endoftext|> at 32000 as BOS/EOS/padding ids point to).
fs::path write_phi3_gguf(const std::string& name) {
  const nlohmann::json config = read_ordered(kDataDir + "/phi3/tokenizer_config.json");
  GgufWriter writer;
  writer.add("general.architecture", GgufValue::make_string("llama"));
  writer.add("tokenizer.ggml.model", GgufValue::make_string("llama"));
  std::vector<GgufValue> tokens;
  for (int i = 0; i <= 32000; ++i) tokens.push_back(GgufValue::make_string(fmt::format("t{}", i)));
  tokens[0] = GgufValue::make_string("<unk>");
  tokens[1] = GgufValue::make_string("<s>");
  tokens[32000] = GgufValue::make_string("<|endoftext|>");
  writer.add("tokenizer.ggml.tokens", GgufValue::make_array(GgufValueType::STRING, std::move(tokens)));
  writer.add("tokenizer.ggml.bos_token_id", GgufValue::make_uint(GgufValueType::UINT32, 1));
  writer.add("tokenizer.ggml.eos_token_id", GgufValue::make_uint(GgufValueType::UINT32, 32000));
  writer.add("tokenizer.ggml.unknown_token_id", GgufValue::make_uint(GgufValueType::UINT32, 0));
  writer.add("tokenizer.ggml.padding_token_id", GgufValue::make_uint(GgufValueType::UINT32, 32000));
  writer.add("tokenizer.chat_template", GgufValue::make_string(config["chat_template"].get<std::string>()));
  const fs::path path = fs::temp_directory_path() / name;
  writer.write(path.string());
  return path;
}

TEST(ChatTemplateGguf, TemplateAndSpecialTokensComeFromTheMetadata) {
  const fs::path path = write_phi3_gguf("pocketllm_phi3_template.gguf");
  const ChatTemplate chat = ChatTemplate::from_gguf(GgufFile::open(path.string()));
  EXPECT_EQ(chat.special_tokens().dump(),
            R"({"bos_token":"<s>","eos_token":"<|endoftext|>","unk_token":"<unk>","pad_token":"<|endoftext|>"})");
  EXPECT_GE(compare_with_oracle(chat, "phi3"), 20);
  fs::remove(path);
}

TEST(ChatTemplateFallback, ModelsWithoutTemplateGetChatMl) {
  const ChatTemplate chat("", nlohmann::ordered_json::object(), "none");
  ASSERT_TRUE(chat.is_fallback());
  ChatRequest request;
  request.messages = nlohmann::ordered_json::parse(
      R"([{"role":"system","content":"Be kind."},{"role":"user","content":[{"type":"text","text":"Hi "},{"type":"image"},{"type":"text","text":"there"}]}])");
  request.add_generation_prompt = true;
  EXPECT_EQ(chat.render(request),
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateErrors, NameTheTemplateLine) {
  const ChatTemplate gemma = ChatTemplate::from_hf(kDataDir + "/gemma3");
  ChatRequest request;
  request.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])");
  try {
    gemma.render(request);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              kDataDir + "/gemma3/tokenizer_config.json: chat template line 19 column 12: raise_exception: "
                         "Conversation roles must alternate user/assistant/user/assistant/...");
  }
  try {
    ChatTemplate("{% for m in messages %}\n{{ m.content | frobnicate }}\n{% endfor %}", {}, "t.jinja").render(request);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "t.jinja line 2 column 14: filter 'frobnicate' is not supported on a string");
  }
  try {
    ChatTemplate("ok\n{% if x %}\n{% endfor %}", {}, "t.jinja");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "t.jinja line 3 column 4: unexpected 'endfor': the 'if' at t.jinja line 2 column 1 is still open");
  }
}

// ---- the `pocketllm template` command ----

std::string write_json(const nlohmann::ordered_json& json, const std::string& name) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << json.dump();
  return path.string();
}

nlohmann::ordered_json conversation_named(const std::string& name) {
  for (const auto& conversation : read_ordered(kDataDir + "/conversations.json")) {
    if (conversation["name"] == name) return conversation;
  }
  ADD_FAILURE() << "no conversation " << name;
  return {};
}

TEST(TemplateCommand, PrintsTheReferenceRenderingForHfFolderAndGguf) {
  const std::string binary = POCKETLLM_BINARY;
  const auto qwen_expected = oracle("qwen3", kDataDir + "/conversations.json");
  const auto conversation = conversation_named("tool_round_trip_then_user");
  const std::string messages = write_json(conversation["messages"], "pocketllm_cli_messages.json");
  const std::string tools = write_json(conversation["tools"], "pocketllm_cli_tools.json");
  CommandResult result = run_command(binary + " template -m " + kDataDir + "/qwen3 --messages " + messages +
                                         " --tools " + tools + " --add-generation-prompt",
                                     "cli_qwen3");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, qwen_expected.at("tool_round_trip_then_user")["output"].get<std::string>());

  // {"messages", "tools"} in one file, extra variables, tokenizer_config.json given directly.
  const auto thinking = conversation_named("enable_thinking_false");
  const std::string bundle = write_json({{"messages", thinking["messages"]}}, "pocketllm_cli_bundle.json");
  result = run_command(binary + " template -m " + kDataDir + "/qwen3/tokenizer_config.json --messages " + bundle +
                           " --add-generation-prompt --chat-template-kwargs '{\"enable_thinking\": false}'",
                       "cli_qwen3_kwargs");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, qwen_expected.at("enable_thinking_false")["output"].get<std::string>());

  const auto phi_expected = oracle("phi3", kDataDir + "/conversations.json");
  const fs::path gguf = write_phi3_gguf("pocketllm_cli_phi3.gguf");
  const auto two_turns = conversation_named("two_turns_with_system");
  const std::string two_turns_file = write_json(two_turns["messages"], "pocketllm_cli_two_turns.json");
  result = run_command(binary + " template -m " + gguf.string() + " --messages " + two_turns_file +
                           " --add-generation-prompt",
                       "cli_phi3");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, phi_expected.at("two_turns_with_system")["output"].get<std::string>());

  // --chat-template-file replaces the model's template, keeping its tokens.
  const fs::path template_file = fs::temp_directory_path() / "pocketllm_cli_template.jinja";
  std::ofstream(template_file) << "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{% endfor %}";
  result = run_command(binary + " template -m " + gguf.string() + " --messages " + two_turns_file +
                           " --chat-template-file " + template_file.string(),
                       "cli_template_file");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "<s>[system][user][assistant][user]");

  // No model: the embedded one, which has no template: ChatML.
  result = run_command(binary + " template --messages " + two_turns_file, "cli_embedded");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n");
  for (const auto& path : {messages, tools, bundle, two_turns_file, gguf.string(), template_file.string()}) {
    fs::remove(path);
  }
}

TEST(TemplateCommand, TemplateErrorsExitWithStatus2OnOneLine) {
  const std::string messages =
      write_json(conversation_named("repeated_user_roles")["messages"], "pocketllm_cli_bad_roles.json");
  const CommandResult result = run_command(
      std::string(POCKETLLM_BINARY) + " template -m " + kDataDir + "/gemma3 --messages " + messages, "cli_bad_roles");
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err, "pocketllm: error: " + kDataDir +
                            "/gemma3/tokenizer_config.json: chat template line 19 column 12: raise_exception: "
                            "Conversation roles must alternate user/assistant/user/assistant/...\n");
  EXPECT_EQ(result.out, "");
  fs::remove(messages);

  const fs::path broken = fs::temp_directory_path() / "pocketllm_cli_broken.json";
  std::ofstream(broken) << "[\n  {\"role\": \"user\",\n";
  const CommandResult bad_json =
      run_command(std::string(POCKETLLM_BINARY) + " template --messages " + broken.string(), "cli_broken");
  EXPECT_EQ(bad_json.status, 2);
  EXPECT_EQ(bad_json.err.rfind("pocketllm: error: " + broken.string() + ": line 3 column 1: ", 0), 0u) << bad_json.err;
  EXPECT_EQ(std::count(bad_json.err.begin(), bad_json.err.end(), '\n'), 1);
  fs::remove(broken);
}

}  // namespace
}  // namespace pocketllm
