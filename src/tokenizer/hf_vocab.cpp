// Vocab::from_hf_json: the BPE vocabulary of a Hugging Face tokenizer.json.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "tokenizer/vocab.h"
#include "util/error.h"

namespace pocketllm {

namespace {

bool is_byte_token_text(std::string_view text) {
  auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>' && is_hex(text[3]) && is_hex(text[4]);
}

// tokenizer_config.json names special tokens as a string or as an
// AddedToken object {"content": ...}.
std::optional<std::string> config_token(const nlohmann::json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const nlohmann::json& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

Vocab Vocab::from_hf_json(const nlohmann::json& tokenizer, const nlohmann::json& config) {
  if (!tokenizer.is_object() || !tokenizer.contains("model") || !tokenizer["model"].is_object()) {
    throw InputError("tokenizer.json: no \"model\" object");
  }
  const nlohmann::json& model = tokenizer["model"];
  const std::string type = model.value("type", std::string());
  if (type != "BPE") {
    throw InputError("tokenizer.json: unsupported tokenizer model '" + (type.empty() ? std::string("(none)") : type) +
                     "' (only BPE)");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) throw InputError("tokenizer.json: model has no \"vocab\" object");
  if (!model.contains("merges") || !model["merges"].is_array()) throw InputError("tokenizer.json: model has no \"merges\" array");
  const nlohmann::json added = tokenizer.value("added_tokens", nlohmann::json::array());
  if (!added.is_array()) throw InputError("tokenizer.json: \"added_tokens\" is not an array");

  // Ids: the vocab's and the added tokens'; holes are unused tokens.
  int64_t max_id = -1;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > 0x7FFFFFF0) {
      throw InputError("tokenizer.json: vocab entry '" + text + "' has a bad id");
    }
    max_id = std::max(max_id, id.get<int64_t>());
  }
  for (const auto& entry : added) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() || !entry.contains("content") ||
        !entry["content"].is_string() || entry["id"].get<int64_t>() < 0 || entry["id"].get<int64_t>() > 0x7FFFFFF0) {
      throw InputError("tokenizer.json: an added token lacks a valid id or content");
    }
    max_id = std::max(max_id, entry["id"].get<int64_t>());
  }
  if (max_id < 0) throw InputError("tokenizer.json: the vocab is empty");
  const auto n = static_cast<size_t>(max_id + 1);

  Vocab vocab;
  vocab.kind_ = VocabKind::Bpe;
  vocab.model_name_ = "hf-bpe";
  vocab.pre_spec_.clean_spaces = false;
  const bool byte_fallback = model.value("byte_fallback", false);
  std::vector<std::string> texts(n);
  std::vector<uint32_t> attrs(n, kAttrUnused);
  for (const auto& [text, id] : model["vocab"].items()) {
    const auto index = static_cast<size_t>(id.get<int64_t>());
    texts[index] = text;
    attrs[index] = (byte_fallback && is_byte_token_text(text)) ? kAttrByte : kAttrNormal;
  }
  for (const auto& entry : added) {
    const auto index = static_cast<size_t>(entry["id"].get<int64_t>());
    texts[index] = entry["content"].get<std::string>();
    attrs[index] = entry.value("special", false) ? kAttrControl : kAttrUserDefined;
    if (entry.value("lstrip", false)) attrs[index] |= kAttrLStrip;
    if (entry.value("rstrip", false)) attrs[index] |= kAttrRStrip;
  }
  for (size_t i = 0; i < n; ++i) {
    if (texts[i].empty()) texts[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  vocab.token_texts_ = std::move(texts);
  vocab.tokens_.resize(n);
  vocab.symbols_.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    TokenInfo& info = vocab.tokens_[i];
    info.text = vocab.token_texts_[i];
    info.attrs = attrs[i];
    vocab.max_token_length_ = std::max(vocab.max_token_length_, info.text.size());
  }
  // Text -> id: vocab entries, then added tokens (which win, as in tokenizers.js).
  for (size_t i = 0; i < n; ++i) {
    if (!(attrs[i] & (kAttrControl | kAttrUserDefined))) vocab.symbols_.emplace(vocab.tokens_[i].text, static_cast<int32_t>(i));
  }
  for (const auto& entry : added) {
    const auto id = static_cast<int32_t>(entry["id"].get<int64_t>());
    vocab.symbols_.insert_or_assign(vocab.tokens_[static_cast<size_t>(id)].text, id);
  }

  // Merges, "left right" strings or [left, right] pairs; a repeated pair
  // takes its last rank (a JavaScript Map built from the list).
  const nlohmann::json& merges = model["merges"];
  vocab.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const nlohmann::json& merge = merges[rank];
    std::string left;
    std::string right;
    if (merge.is_string()) {
      const std::string& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos) throw InputError("tokenizer.json: merge " + std::to_string(rank) + " has no space");
      left = text.substr(0, space);
      const size_t next_space = text.find(' ', space + 1);
      right = text.substr(space + 1, next_space == std::string::npos ? std::string::npos : next_space - space - 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      throw InputError("tokenizer.json: merge " + std::to_string(rank) + " is malformed");
    }
    const int32_t left_id = vocab.intern(left);
    const int32_t right_id = vocab.intern(right);
    const int32_t result = vocab.intern(left + right);
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left_id)) << 32) | static_cast<uint32_t>(right_id);
    vocab.merges_.insert_or_assign(key, BpeMerge{static_cast<int32_t>(rank), result});
  }

  // Special tokens named by tokenizer_config.json (and the model's unk).
  auto id_of = [&](const std::optional<std::string>& text) { return text ? vocab.find(*text) : kNoToken; };
  vocab.bos = id_of(config_token(config, "bos_token"));
  vocab.eos = id_of(config_token(config, "eos_token"));
  vocab.pad = id_of(config_token(config, "pad_token"));
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    vocab.unk = vocab.find(model["unk_token"].get<std::string>());
    if (vocab.unk != kNoToken) vocab.tokens_[static_cast<size_t>(vocab.unk)].attrs |= kAttrUnknown;
  }
  vocab.clean_spaces = config.is_object() ? config.value("clean_up_tokenization_spaces", true) : true;
  if (vocab.eos != kNoToken) vocab.end_of_generation.push_back(vocab.eos);
  for (std::string_view text : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|return|>", "<|call|>", "<|eom_id|>"}) {
    const TokenId id = vocab.find(text);
    if (id == kNoToken || !(vocab.tokens_[static_cast<size_t>(id)].attrs & kAttrControl)) continue;
    if (vocab.eot == kNoToken) vocab.eot = id;
    if (!vocab.is_end_of_generation(id)) vocab.end_of_generation.push_back(id);
  }

  for (TokenId id = 0; id < vocab.n_tokens(); ++id) {
    if (vocab.token(id).attrs & (kAttrControl | kAttrUserDefined)) vocab.special_tokens_.push_back(id);
  }
  std::stable_sort(vocab.special_tokens_.begin(), vocab.special_tokens_.end(), [&](TokenId a, TokenId b) {
    return vocab.token(a).text.size() > vocab.token(b).text.size();
  });
  return vocab;
}

}  // namespace pocketllm
