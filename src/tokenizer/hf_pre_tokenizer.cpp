#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/hf_component.h"

#include <nlohmann/json.hpp>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace pocketllm {

namespace {

// GPT-2's regex as the ByteLevel pre-tokenizer runs it (with a final \s+).
const char* const kByteLevelRegex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

}  // namespace

HfPreTokenizer::HfPreTokenizer(const nlohmann::json& config) {
  if (!config.is_null()) add(config);
}

void HfPreTokenizer::add(const nlohmann::json& config) {
  const std::string type = hf_component_type(config, "pre_tokenizer");
  if (byte_level_) throw InputError("tokenizer.json: unsupported pre_tokenizer '" + type + "' after ByteLevel");
  if (type == "Sequence") {
    for (const auto& item : hf_sequence_items(config, "pre_tokenizer", "pretokenizers")) add(item);
  } else if (type == "Split") {
    Step step;
    step.kind = Kind::Split;
    const nlohmann::json pattern = config.value("pattern", nlohmann::json());
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      step.regex = std::make_shared<UnicodeRegex>(pattern["Regex"].get<std::string>());
    } else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      step.regex = std::make_shared<UnicodeRegex>(UnicodeRegex::literal(pattern["String"].get<std::string>()));
    } else {
      throw InputError("tokenizer.json: pre_tokenizer Split without a String or Regex pattern");
    }
    const std::string behavior = config.value("behavior", std::string("Isolated"));
    if (behavior == "Isolated") {
      step.behavior = Behavior::Isolated;
    } else if (behavior == "Removed") {
      step.behavior = Behavior::Removed;
    } else if (behavior == "MergedWithPrevious") {
      step.behavior = Behavior::MergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      step.behavior = Behavior::MergedWithNext;
    } else {
      throw InputError("tokenizer.json: unsupported Split behavior '" + behavior + "'");
    }
    step.invert = config.value("invert", false);
    if (step.invert && step.behavior != Behavior::Isolated && step.behavior != Behavior::Removed) {
      throw InputError("tokenizer.json: unsupported inverted Split behavior '" + behavior + "'");
    }
    steps_.push_back(std::move(step));
  } else if (type == "ByteLevel") {
    if (config.value("add_prefix_space", false)) {
      Step step;
      step.kind = Kind::ByteLevelPrefix;
      steps_.push_back(std::move(step));
    }
    if (config.value("use_regex", true)) {
      Step step;
      step.kind = Kind::Split;
      step.regex = std::make_shared<UnicodeRegex>(kByteLevelRegex);
      steps_.push_back(std::move(step));
    }
    byte_level_ = true;
  } else if (type == "Metaspace") {
    Step step;
    step.kind = Kind::Metaspace;
    const std::string replacement = config.value("replacement", std::string("\xE2\x96\x81"));
    std::vector<uint32_t> cps;
    unicode::decode(replacement, cps);
    if (cps.size() != 1) throw InputError("tokenizer.json: Metaspace replacement must be one character");
    step.replacement = cps[0];
    step.prepend = config.value("prepend_scheme", std::string("always"));
    if (config.contains("add_prefix_space") && config["add_prefix_space"].is_boolean() && !config.contains("prepend_scheme")) {
      step.prepend = config["add_prefix_space"].get<bool>() ? "always" : "never";
    }
    if (step.prepend != "always" && step.prepend != "first" && step.prepend != "never") {
      throw InputError("tokenizer.json: unsupported Metaspace prepend_scheme '" + step.prepend + "'");
    }
    if (config.value("split", true)) step.regex = std::make_shared<UnicodeRegex>(UnicodeRegex::literal(replacement));
    steps_.push_back(std::move(step));
  } else if (type == "Digits") {
    Step step;
    step.kind = Kind::Split;
    step.regex = std::make_shared<UnicodeRegex>(config.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
    steps_.push_back(std::move(step));
  } else {
    throw InputError("tokenizer.json: unsupported pre_tokenizer type '" + type + "'");
  }
}

void HfPreTokenizer::split(std::string_view text, size_t section_index, HfWords& words) const {
  words.text.clear();
  words.ranges.clear();
  unicode::decode(text, words.text);
  if (words.text.empty()) return;
  words.ranges.emplace_back(0, words.text.size());

  std::vector<std::pair<size_t, size_t>> next;
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<uint32_t> rebuilt;
  for (const Step& step : steps_) {
    next.clear();
    if (step.kind == Kind::ByteLevelPrefix || step.kind == Kind::Metaspace) {
      // Rewrites the text of each word, then (Metaspace with split) cuts
      // before each replacement character.
      rebuilt.clear();
      for (const auto& [begin, end] : words.ranges) {
        const size_t start = rebuilt.size();
        if (step.kind == Kind::ByteLevelPrefix) {
          if (begin == end || words.text[begin] != ' ') rebuilt.push_back(' ');
          rebuilt.insert(rebuilt.end(), words.text.begin() + static_cast<std::ptrdiff_t>(begin),
                         words.text.begin() + static_cast<std::ptrdiff_t>(end));
        } else {
          const bool first_char_is_space = begin < end && words.text[begin] == ' ';
          const bool prepend = step.prepend == "always" || (step.prepend == "first" && section_index == 0);
          if (prepend && !first_char_is_space && !(begin < end && words.text[begin] == step.replacement)) {
            rebuilt.push_back(step.replacement);
          }
          for (size_t i = begin; i < end; ++i) rebuilt.push_back(words.text[i] == ' ' ? step.replacement : words.text[i]);
        }
        if (step.regex == nullptr || step.kind == Kind::ByteLevelPrefix) {
          next.emplace_back(start, rebuilt.size());
          continue;
        }
        // MergedWithNext at each replacement character.
        size_t piece_start = start;
        for (size_t i = start + 1; i < rebuilt.size(); ++i) {
          if (rebuilt[i] == step.replacement) {
            next.emplace_back(piece_start, i);
            piece_start = i;
          }
        }
        next.emplace_back(piece_start, rebuilt.size());
      }
      words.text.swap(rebuilt);
      words.ranges.swap(next);
      continue;
    }
    for (const auto& [begin, end] : words.ranges) {
      step.regex->find_all(std::span<const uint32_t>(words.text).subspan(begin, end - begin), matches);
      size_t done = begin;
      bool pending_merge_next = false;  // MergedWithNext: a match waits for the next gap
      size_t merge_start = 0;
      for (const auto& [match_begin_rel, match_end_rel] : matches) {
        const size_t match_begin = begin + match_begin_rel;
        const size_t match_end = begin + match_end_rel;
        if (step.invert) {
          // Only the matches are words (tokenizers.js); Removed likewise.
          next.emplace_back(match_begin, match_end);
          continue;
        }
        switch (step.behavior) {
          case Behavior::Isolated:
            if (match_begin > done) next.emplace_back(done, match_begin);
            next.emplace_back(match_begin, match_end);
            break;
          case Behavior::Removed:
            if (match_begin > done) next.emplace_back(done, match_begin);
            break;
          case Behavior::MergedWithPrevious:
            next.emplace_back(done, match_end);
            break;
          case Behavior::MergedWithNext:
            if (pending_merge_next) {
              next.emplace_back(merge_start, match_begin);
            } else if (match_begin > done) {
              next.emplace_back(done, match_begin);
            }
            pending_merge_next = true;
            merge_start = match_begin;
            break;
        }
        done = match_end;
      }
      if (step.invert) continue;
      if (pending_merge_next) {
        next.emplace_back(merge_start, end);
      } else if (done < end) {
        next.emplace_back(done, end);
      }
    }
    words.ranges.swap(next);
  }
}

}  // namespace pocketllm
