#include "tokenizer/jinja_text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <utf8proc.h>

namespace pocketllm::jinja {

size_t decode_utf8(std::string_view s, size_t pos, char32_t& cp) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  size_t len = 1;
  if (b0 >= 0xF0 && b0 < 0xF8) {
    len = 4;
  } else if (b0 >= 0xE0) {
    len = b0 < 0xF0 ? 3 : 1;
  } else if (b0 >= 0xC0) {
    len = 2;
  }
  if (len == 1 || pos + len > s.size()) {
    cp = b0;
    return 1;
  }
  char32_t value = b0 & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) {
      cp = b0;
      return 1;
    }
    value = (value << 6) | (b & 0x3F);
  }
  cp = value;
  return len;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, pos, cp);
    if (len == 1 && cp >= 0x80) return false;
    const char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    pos += len;
  }
  return true;
}

bool is_js_space(char32_t cp) {
  switch (cp) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000: case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

size_t space_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  char32_t cp = 0;
  const size_t len = decode_utf8(s, pos, cp);
  return is_js_space(cp) ? len : 0;
}

size_t space_before(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t start = end - 1;
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  char32_t cp = 0;
  const size_t len = decode_utf8(s, start, cp);
  return start + len == end && is_js_space(cp) ? len : 0;
}

std::string_view trim_start(std::string_view s) {
  size_t pos = 0;
  while (size_t len = space_at(s, pos)) pos += len;
  return s.substr(pos);
}

std::string_view trim_end(std::string_view s) {
  size_t end = s.size();
  while (size_t len = space_before(s, end)) end -= len;
  return s.substr(0, end);
}

std::string_view trim(std::string_view s) { return trim_end(trim_start(s)); }

bool line_terminator_before(std::string_view s, size_t end) {
  if (end == 0) return false;
  if (s[end - 1] == '\n' || s[end - 1] == '\r') return true;
  return end >= 3 && s.substr(end - 3, 2) == "\xE2\x80" &&
         (s[end - 1] == '\xA8' || s[end - 1] == '\xA9');
}

size_t utf16_length(std::string_view s) {
  size_t units = 0;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    pos += decode_utf8(s, pos, cp);
    units += cp >= 0x10000 ? 2 : 1;
  }
  return units;
}

bool utf16_unit_at(std::string_view s, int64_t index, std::string& out) {
  const auto length = static_cast<int64_t>(utf16_length(s));
  if (index < 0) index += length;
  if (index < 0 || index >= length) return false;
  int64_t unit = 0;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, pos, cp);
    const int64_t width = cp >= 0x10000 ? 2 : 1;
    if (index < unit + width) {
      out.clear();
      if (width == 2) {
        append_utf8(out, 0xFFFD);  // half of a surrogate pair has no UTF-8 form
      } else {
        out.assign(s.substr(pos, len));
      }
      return true;
    }
    unit += width;
    pos += len;
  }
  return false;
}

std::vector<std::string> code_points(std::string_view s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, pos, cp);
    out.emplace_back(s.substr(pos, len));
    pos += len;
  }
  return out;
}

std::string js_number_to_string(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";
  if (v < 0) {
    std::string out = "-";
    out += js_number_to_string(-v);
    return out;
  }
  // Shortest round-trip digits d.ddd and exponent, then ECMAScript's layout.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) return digits + std::string(static_cast<size_t>(n - k), '0');
  if (0 < n && n <= 21) {
    return digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
  }
  if (-6 < n && n <= 0) {
    std::string out = "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
    return out;
  }
  const int e = n - 1;
  std::string out = digits.substr(0, 1);
  if (k > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += e < 0 ? "e-" : "e+";
  out += std::to_string(e < 0 ? -e : e);
  return out;
}

std::string float_to_output(double v) {
  if (v == 0 && std::signbit(v)) return "-0.0";
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 1e21) {
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 1);
    return std::string(buf, static_cast<size_t>(result.ptr - buf));
  }
  return js_number_to_string(v);
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the longest StrDecimalLiteral prefix of `s` (sign included), 0 if none.
size_t decimal_prefix(std::string_view s) {
  size_t pos = 0;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
  if (s.substr(pos, 8) == "Infinity") return pos + 8;
  size_t int_digits = 0;
  while (pos < s.size() && is_digit(s[pos])) ++pos, ++int_digits;
  size_t frac_digits = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t p = pos + 1;
    while (p < s.size() && is_digit(s[p])) ++p, ++frac_digits;
    if (int_digits + frac_digits > 0) pos = p;
  }
  if (int_digits + frac_digits == 0) return 0;
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    size_t p = pos + 1;
    if (p < s.size() && (s[p] == '+' || s[p] == '-')) ++p;
    const size_t exp_start = p;
    while (p < s.size() && is_digit(s[p])) ++p;
    if (p > exp_start) pos = p;
  }
  return pos;
}

double parse_decimal(std::string_view literal) {
  std::string text(literal);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.erase(0, 1);
  }
  double value = text == "Infinity" ? std::numeric_limits<double>::infinity() : std::strtod(text.c_str(), nullptr);
  return negative ? -value : value;
}

}  // namespace

double js_string_to_number(std::string_view s) {
  s = trim(s);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0') {
    int base = 0;
    if (s[1] == 'x' || s[1] == 'X') base = 16;
    if (s[1] == 'o' || s[1] == 'O') base = 8;
    if (s[1] == 'b' || s[1] == 'B') base = 2;
    if (base != 0) {
      double value = 0;
      for (char c : s.substr(2)) {
        int digit = 99;
        if (is_digit(c)) digit = c - '0';
        if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit >= base) return kNaN;
        value = value * base + digit;
      }
      return value;
    }
  }
  const size_t len = decimal_prefix(s);
  return len == s.size() ? parse_decimal(s) : kNaN;
}

double js_parse_int(std::string_view s) {
  s = trim_start(s);
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) negative = s[pos++] == '-';
  const size_t start = pos;
  double value = 0;
  while (pos < s.size() && is_digit(s[pos])) value = value * 10 + (s[pos++] - '0');
  if (pos == start) return kNaN;
  return negative ? -value : value;
}

double js_parse_float(std::string_view s) {
  s = trim_start(s);
  const size_t len = decimal_prefix(s);
  return len == 0 ? kNaN : parse_decimal(s.substr(0, len));
}

namespace {

// String.prototype.toUpperCase / toLowerCase per code point (utf8proc's
// simple mappings, plus the one full mapping chat text meets: ß -> SS).
std::string map_case(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, pos, cp);
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    } else if (len == 1) {
      out += s[pos];  // not UTF-8: kept as it is
    } else if (upper && cp == 0xDF) {
      out += "SS";
    } else {
      const auto code = static_cast<utf8proc_int32_t>(cp);
      append_utf8(out, static_cast<char32_t>(upper ? utf8proc_toupper(code) : utf8proc_tolower(code)));
    }
    pos += len;
  }
  return out;
}

}  // namespace

std::string to_upper(std::string_view s) { return map_case(s, true); }
std::string to_lower(std::string_view s) { return map_case(s, false); }

std::string js_title_case(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const bool boundary = i == 0 || !is_word_char(out[i - 1]);
    if (boundary && out[i] >= 'a' && out[i] <= 'z') out[i] = static_cast<char>(out[i] - 'a' + 'A');
  }
  return out;
}

std::string js_capitalize(std::string_view s) {
  if (s.empty()) return "";
  char32_t cp = 0;
  const size_t len = decode_utf8(s, 0, cp);
  if (cp >= 0x10000) return std::string(s);  // charAt(0) is half a surrogate pair: unchanged
  return to_upper(s.substr(0, len)) + std::string(s.substr(len));
}

}  // namespace pocketllm::jinja
