#pragma once
// String and number semantics of the chat-template reference renderer
// (@huggingface/jinja, which is JavaScript) over UTF-8 strings: which code
// points are whitespace (JS `\s` / trim()), lengths in UTF-16 units, how
// numbers print (Number.prototype.toString), parseInt/parseFloat, and its
// case mappings. Matching these byte for byte is
// what makes a rendered prompt identical to transformers.js's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::jinja {

// Decodes the code point at `pos` (valid UTF-8 assumed; a bad byte decodes as
// itself with length 1). Returns the byte length; `cp` receives the value.
size_t decode_utf8(std::string_view s, size_t pos, char32_t& cp);
void append_utf8(std::string& out, char32_t cp);
// True when `s` is well-formed UTF-8 (no surrogates, no overlongs).
bool is_valid_utf8(std::string_view s);

// JS whitespace (WhiteSpace + LineTerminator): the set of `\s` and trim().
bool is_js_space(char32_t cp);
// Byte length of the whitespace code point starting at `pos`, or 0.
size_t space_at(std::string_view s, size_t pos);
// Byte length of the whitespace code point ending just before `end`, or 0.
size_t space_before(std::string_view s, size_t end);
std::string_view trim_start(std::string_view s);
std::string_view trim_end(std::string_view s);
std::string_view trim(std::string_view s);
// A JS line terminator (\n, \r, U+2028, U+2029) ending just before `end`.
bool line_terminator_before(std::string_view s, size_t end);

// Length in UTF-16 code units (String.prototype.length).
size_t utf16_length(std::string_view s);
// The UTF-16 unit at `index` (negative counts from the end, as .at() does)
// as a string; a lone surrogate half becomes U+FFFD. False when out of range.
bool utf16_unit_at(std::string_view s, int64_t index, std::string& out);
// Array.from(s): one string per code point.
std::vector<std::string> code_points(std::string_view s);

// Number.prototype.toString (shortest round trip, JS exponent rules).
std::string js_number_to_string(double v);
// How the renderer prints a float value: integral values keep ".0"
// (toFixed(1)), -0 prints "-0.0", others as js_number_to_string.
std::string float_to_output(double v);
// ToNumber(string) of loose equality: trims, "" is 0, decimal, 0x/0o/0b,
// Infinity; anything else NaN.
double js_string_to_number(std::string_view s);
// parseInt(s, 10) and parseFloat(s): NaN when no number starts the string.
double js_parse_int(std::string_view s);
double js_parse_float(std::string_view s);

// toUpperCase / toLowerCase: Unicode simple case mappings (and ß -> SS).
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// /\b\w/g -> upper: the first [A-Za-z0-9_] after a non-word character is
// upper-cased, nothing is lower-cased (unlike Python's str.title).
std::string js_title_case(std::string_view s);
// First character upper-cased, the rest unchanged (unlike Python).
std::string js_capitalize(std::string_view s);
inline bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace pocketllm::jinja
