#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>

#include <array>
#include <string>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace pocketllm {

struct UnicodeRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

UnicodeRegex::UnicodeRegex(std::string_view pattern_utf8) : code_(std::make_unique<Code>()) {
  std::vector<uint32_t> units;
  unicode::decode(pattern_utf8, units);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  code_->code = pcre2_compile(units.data(), units.size(), PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error,
                              &error_offset, nullptr);
  if (code_->code == nullptr) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(error, message.data(), message.size());
    std::string text;
    for (PCRE2_UCHAR c : message) {
      if (c == 0) break;
      unicode::append_utf8(text, c);
    }
    throw InputError("regex '" + std::string(pattern_utf8) + "' at " + std::to_string(error_offset) + ": " + text);
  }
  // JIT is an optimisation: when it is unavailable the interpreter runs.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

UnicodeRegex UnicodeRegex::literal(std::string_view literal_utf8) {
  std::string pattern;
  std::vector<uint32_t> cps;
  unicode::decode(literal_utf8, cps);
  for (const uint32_t cp : cps) {
    // \x{...} for everything: no character is special then.
    pattern += "\\x{";
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string hex;
    for (uint32_t v = cp; v != 0 || hex.empty(); v >>= 4) hex.insert(hex.begin(), kHex[v & 15]);
    pattern += hex;
    pattern += "}";
  }
  return UnicodeRegex(pattern);
}

UnicodeRegex::~UnicodeRegex() = default;
UnicodeRegex::UnicodeRegex(UnicodeRegex&&) noexcept = default;
UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&&) noexcept = default;

void UnicodeRegex::find_all(std::span<const uint32_t> text, std::vector<std::pair<size_t, size_t>>& matches) const {
  matches.clear();
  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  const PCRE2_SPTR subject = text.data();
  size_t offset = 0;
  while (offset <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(match);
      throw InputError("text too complex for the tokenizer's regex (PCRE2 error " + std::to_string(rc) + ")");
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    if (ovector[1] == ovector[0]) {
      offset = ovector[1] + 1;
      continue;
    }
    matches.emplace_back(ovector[0], ovector[1]);
    offset = ovector[1];
  }
  pcre2_match_data_free(match);
}

}  // namespace pocketllm
