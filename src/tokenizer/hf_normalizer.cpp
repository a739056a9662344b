#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_component.h"

#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace pocketllm {

namespace {

std::string utf8proc_apply(std::string_view text, utf8proc_uint8_t* (*form)(const utf8proc_uint8_t*)) {
  const std::string copy(text);  // NUL-terminated
  utf8proc_uint8_t* result = form(reinterpret_cast<const utf8proc_uint8_t*>(copy.c_str()));
  if (result == nullptr) return copy;
  std::string out(reinterpret_cast<const char*>(result));
  std::free(result);
  return out;
}

// A text that contains NUL: utf8proc works on C strings, so normalize the
// pieces between NULs.
std::string unicode_form(std::string_view text, utf8proc_uint8_t* (*form)(const utf8proc_uint8_t*)) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t nul = text.find('\0', start);
    out += utf8proc_apply(text.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start), form);
    if (nul == std::string_view::npos) break;
    out.push_back('\0');
    start = nul + 1;
  }
  return out;
}

std::string pattern_text(const nlohmann::json& pattern, bool& is_regex) {
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
    is_regex = false;
    return pattern["String"].get<std::string>();
  }
  if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    is_regex = true;
    return pattern["Regex"].get<std::string>();
  }
  throw InputError("tokenizer.json: a pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
}

}  // namespace

bool is_js_trim_space(uint32_t cp) { return cp == 0xFEFF || (cp != 0x85 && unicode::is_whitespace(cp)); }

HfNormalizer::HfNormalizer(const nlohmann::json& config) {
  if (!config.is_null()) add(config);
}

void HfNormalizer::add(const nlohmann::json& config) {
  const std::string type = hf_component_type(config, "normalizer");
  if (type == "Sequence") {
    for (const auto& item : hf_sequence_items(config, "normalizer", "normalizers")) add(item);
  } else if (type == "NFC") {
    steps_.push_back(make_step(Kind::Nfc));
  } else if (type == "NFD") {
    steps_.push_back(make_step(Kind::Nfd));
  } else if (type == "NFKC") {
    steps_.push_back(make_step(Kind::Nfkc));
  } else if (type == "NFKD") {
    steps_.push_back(make_step(Kind::Nfkd));
  } else if (type == "Lowercase") {
    steps_.push_back(make_step(Kind::Lowercase));
  } else if (type == "StripAccents") {
    steps_.push_back(make_step(Kind::StripAccents));
  } else if (type == "Strip") {
    Step step = make_step(Kind::Strip);
    step.strip_left = config.value("strip_left", false);
    step.strip_right = config.value("strip_right", false);
    steps_.push_back(step);
  } else if (type == "Prepend") {
    Step step = make_step(Kind::Prepend);
    step.text = config.value("prepend", std::string());
    steps_.push_back(std::move(step));
  } else if (type == "Replace") {
    bool is_regex = false;
    const std::string pattern = pattern_text(config.value("pattern", nlohmann::json()), is_regex);
    auto regex = std::make_shared<UnicodeRegex>(is_regex ? UnicodeRegex(pattern) : UnicodeRegex::literal(pattern));
    Step step = make_step(Kind::Replace);
    step.text = config.value("content", std::string());
    step.pattern = std::move(regex);
    steps_.push_back(std::move(step));
  } else {
    throw InputError("tokenizer.json: unsupported normalizer type '" + type + "'");
  }
}

std::string HfNormalizer::normalize(std::string_view input) const {
  std::string text(input);
  std::vector<uint32_t> cps;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::Nfc: text = unicode_form(text, utf8proc_NFC); break;
      case Kind::Nfd: text = unicode_form(text, utf8proc_NFD); break;
      case Kind::Nfkc: text = unicode_form(text, utf8proc_NFKC); break;
      case Kind::Nfkd: text = unicode_form(text, utf8proc_NFKD); break;
      case Kind::Prepend: text = step.text + text; break;
      case Kind::Lowercase:
      case Kind::StripAccents:
      case Kind::Strip:
      case Kind::Replace: {
        cps.clear();
        unicode::decode(text, cps);
        std::string out;
        out.reserve(text.size());
        if (step.kind == Kind::Lowercase) {
          for (const uint32_t cp : cps) unicode::append_utf8(out, unicode::to_lower(cp));
        } else if (step.kind == Kind::StripAccents) {
          for (const uint32_t cp : cps) {
            if (!unicode::is_accent_mark(cp)) unicode::append_utf8(out, cp);
          }
        } else if (step.kind == Kind::Strip) {
          size_t begin = 0;
          size_t end = cps.size();
          if (step.strip_left) {
            while (begin < end && is_js_trim_space(cps[begin])) ++begin;
          }
          if (step.strip_right) {
            while (end > begin && is_js_trim_space(cps[end - 1])) --end;
          }
          for (size_t i = begin; i < end; ++i) unicode::append_utf8(out, cps[i]);
        } else {
          step.pattern->find_all(cps, matches);
          size_t done = 0;
          for (const auto& [begin, end] : matches) {
            for (size_t i = done; i < begin; ++i) unicode::append_utf8(out, cps[i]);
            out += step.text;
            done = end;
          }
          for (size_t i = done; i < cps.size(); ++i) unicode::append_utf8(out, cps[i]);
        }
        text = std::move(out);
        break;
      }
    }
  }
  return text;
}

}  // namespace pocketllm
