#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_component.h"

#include <nlohmann/json.hpp>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace pocketllm {

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (text.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t match = text.find(from); match != std::string::npos; match = text.find(from, pos)) {
    out.append(text, pos, match - pos);
    out += to;
    pos = match + from.size();
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
}

// "<0xXX>" -> the byte; -1 otherwise (tokenizers.js: 6 characters, parseInt of the two hex digits).
int byte_fallback_value(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int high = hex(token[3]);
  const int low = hex(token[4]);
  if (high < 0) return -1;
  return low < 0 ? high : high * 16 + low;  // parseInt stops at the first non-digit
}

std::string byte_level_to_text(const std::string& joined) {
  std::string bytes;
  bytes.reserve(joined.size());
  size_t pos = 0;
  while (pos < joined.size()) {
    const int byte = unicode::char_to_byte(unicode::decode_one(joined, pos));
    // A character outside the byte table has no byte (tokenizers.js: undefined -> 0).
    bytes.push_back(static_cast<char>(byte >= 0 ? byte : 0));
  }
  return unicode::replace_invalid_utf8(bytes);
}

}  // namespace

HfDecoder::HfDecoder(const nlohmann::json& config) {
  if (config.is_null()) return;
  none_ = false;
  add(config);
}

void HfDecoder::add(const nlohmann::json& config) {
  const std::string type = hf_component_type(config, "decoder");
  if (type == "Sequence") {
    for (const auto& item : hf_sequence_items(config, "decoder", "decoders")) add(item);
  } else if (type == "ByteLevel") {
    steps_.push_back(make_step(Kind::ByteLevel));
    has_byte_level_ = true;
  } else if (type == "Replace") {
    const nlohmann::json pattern = config.value("pattern", nlohmann::json());
    std::shared_ptr<UnicodeRegex> regex;
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      regex = std::make_shared<UnicodeRegex>(UnicodeRegex::literal(pattern["String"].get<std::string>()));
    } else if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      regex = std::make_shared<UnicodeRegex>(pattern["Regex"].get<std::string>());
    } else {
      throw InputError("tokenizer.json: decoder Replace without a String or Regex pattern");
    }
    Step step = make_step(Kind::Replace);
    step.pattern = std::move(regex);
    step.text = config.value("content", std::string());
    steps_.push_back(std::move(step));
  } else if (type == "ByteFallback") {
    steps_.push_back(make_step(Kind::ByteFallback));
  } else if (type == "Fuse") {
    steps_.push_back(make_step(Kind::Fuse));
  } else if (type == "Strip") {
    Step step = make_step(Kind::Strip);
    step.text = config.value("content", std::string());
    step.start = config.value("start", size_t{0});
    step.stop = config.value("stop", size_t{0});
    std::vector<uint32_t> cps;
    unicode::decode(step.text, cps);
    if (cps.size() != 1) throw InputError("tokenizer.json: decoder Strip content must be one character");
    if (step.text == " " && step.start > 0) strips_leading_space_ = true;
    steps_.push_back(std::move(step));
  } else if (type == "Metaspace") {
    Step step = make_step(Kind::Metaspace);
    step.text = config.value("replacement", std::string("\xE2\x96\x81"));
    steps_.push_back(std::move(step));
    strips_leading_space_ = true;
  } else {
    throw InputError("tokenizer.json: unsupported decoder type '" + type + "'");
  }
}

std::string HfDecoder::decode(std::vector<std::string> tokens, const std::unordered_set<std::string>& added) const {
  if (none_) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  std::vector<uint32_t> cps;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::ByteLevel: {
        std::vector<std::string> out;
        std::string run;
        bool have_run = false;
        for (std::string& token : tokens) {
          if (added.count(token) != 0) {
            if (have_run) out.push_back(byte_level_to_text(run));
            run.clear();
            have_run = false;
            out.push_back(std::move(token));
          } else {
            run += token;
            have_run = true;
          }
        }
        if (have_run) out.push_back(byte_level_to_text(run));
        tokens = std::move(out);
        break;
      }
      case Kind::Replace:
        for (std::string& token : tokens) {
          cps.clear();
          unicode::decode(token, cps);
          step.pattern->find_all(cps, matches);
          if (matches.empty()) continue;
          std::string out;
          size_t done = 0;
          for (const auto& [begin, end] : matches) {
            for (size_t i = done; i < begin; ++i) unicode::append_utf8(out, cps[i]);
            out += step.text;
            done = end;
          }
          for (size_t i = done; i < cps.size(); ++i) unicode::append_utf8(out, cps[i]);
          token = std::move(out);
        }
        break;
      case Kind::ByteFallback: {
        std::vector<std::string> out;
        std::string bytes;
        for (std::string& token : tokens) {
          const int byte = byte_fallback_value(token);
          if (byte >= 0) {
            bytes.push_back(static_cast<char>(byte));
            continue;
          }
          if (!bytes.empty()) out.push_back(unicode::replace_invalid_utf8(bytes));
          bytes.clear();
          out.push_back(std::move(token));
        }
        if (!bytes.empty()) out.push_back(unicode::replace_invalid_utf8(bytes));
        tokens = std::move(out);
        break;
      }
      case Kind::Fuse: {
        std::string joined;
        for (const std::string& token : tokens) joined += token;
        tokens.assign(1, std::move(joined));
        break;
      }
      case Kind::Strip:
        for (std::string& token : tokens) {
          // Up to `start` leading and `stop` trailing copies of the character.
          size_t begin = 0;
          for (size_t i = 0; i < step.start && token.compare(begin, step.text.size(), step.text) == 0; ++i) {
            begin += step.text.size();
          }
          size_t end = token.size();
          for (size_t i = 0; i < step.stop && end >= begin + step.text.size() &&
                             token.compare(end - step.text.size(), step.text.size(), step.text) == 0;
               ++i) {
            end -= step.text.size();
          }
          token = token.substr(begin, end - begin);
        }
        break;
      case Kind::Metaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          replace_all(tokens[i], step.text, " ");
          if (i == 0 && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
        }
        break;
    }
  }
  std::string out;
  for (const std::string& token : tokens) out += token;
  return out;
}

std::string clean_up_tokenization(std::string text) {
  replace_all(text, " .", ".");
  replace_all(text, " ?", "?");
  replace_all(text, " !", "!");
  replace_all(text, " ,", ",");
  replace_all(text, " ' ", "'");
  replace_all(text, " n't", "n't");
  replace_all(text, " 'm", "'m");
  replace_all(text, " 's", "'s");
  replace_all(text, " 've", "'ve");
  replace_all(text, " 're", "'re");
  return text;
}

}  // namespace pocketllm
