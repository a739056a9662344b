#include "tokenizer/jinja_lexer.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "tokenizer/jinja_text.h"
#include "util/error.h"

namespace pocketllm::jinja {

std::string SourceText::locate(uint32_t pos) const {
  const uint32_t offset = origin[std::min<size_t>(pos, origin.size() - 1)];
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < original.size(); ++i) {
    if (original[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const size_t column = utf16_length(std::string_view(original).substr(line_start, offset - line_start)) + 1;
  return fmt::format("{} line {} column {}", name, line, column);
}

namespace {

// A text being rewritten, with each byte's offset in the original.
struct Mapped {
  std::string text;
  std::vector<uint32_t> origin;  // one per byte, plus the end

  void push(const Mapped& from, size_t i) {
    text += from.text[i];
    origin.push_back(from.origin[i]);
  }
  void finish(const Mapped& from) { origin.push_back(from.origin.back()); }
};

bool is_tag_open(std::string_view s, size_t i) {
  return i + 1 < s.size() && s[i] == '{' && (s[i + 1] == '%' || s[i + 1] == '{' || s[i + 1] == '#');
}

// lstrip_blocks: /^[ \t]*({[#%-])/gm -> "$1" (^ after any JS line terminator).
Mapped lstrip_blocks(const Mapped& in) {
  Mapped out;
  const std::string_view s = in.text;
  for (size_t i = 0; i < s.size();) {
    if (i == 0 || line_terminator_before(s, i)) {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j > i && j + 1 < s.size() && s[j] == '{' && (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
        i = j;
      }
    }
    out.push(in, i);
    ++i;
  }
  out.finish(in);
  return out;
}

// trim_blocks: /([#%-]})\n/g -> "$1".
Mapped trim_blocks(const Mapped& in) {
  Mapped out;
  const std::string_view s = in.text;
  for (size_t i = 0; i < s.size();) {
    if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' && s[i + 2] == '\n') {
      out.push(in, i);
      out.push(in, i + 1);
      i += 3;
      continue;
    }
    out.push(in, i);
    ++i;
  }
  out.finish(in);
  return out;
}

size_t skip_spaces(std::string_view s, size_t i) {
  while (size_t len = space_at(s, i)) i += len;
  return i;
}

// Length of `{%-? \s* (end)?generation \s* -?%}` at i (0 if none); which sides strip.
size_t generation_tag(std::string_view s, size_t i, bool& strip_before, bool& strip_after) {
  if (s.substr(i, 2) != "{%") return 0;
  size_t j = i + 2;
  strip_before = j < s.size() && s[j] == '-';
  if (strip_before) ++j;
  j = skip_spaces(s, j);
  if (s.substr(j, 3) == "end") j += 3;
  if (s.substr(j, 10) != "generation") return 0;
  j = skip_spaces(s, j + 10);
  strip_after = j < s.size() && s[j] == '-';
  if (strip_after) ++j;
  if (s.substr(j, 2) != "%}") return 0;
  return j + 2 - i;
}

// /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/g: the markers go, and the
// whitespace around them too on the sides marked with `-`.
Mapped remove_generation_markers(const Mapped& in) {
  Mapped out;
  const std::string_view s = in.text;
  size_t copied = 0;  // input bytes before this are handled
  for (size_t i = 0; i < s.size(); ++i) {
    bool strip_before = false;
    bool strip_after = false;
    const size_t len = generation_tag(s, i, strip_before, strip_after);
    if (len == 0) continue;
    size_t before = i;
    while (before > copied && space_before(s, before) != 0) before -= space_before(s, before);
    const size_t after_start = i + len;
    const size_t after_end = skip_spaces(s, after_start);
    const size_t keep_until = strip_before ? before : i;
    for (size_t k = copied; k < keep_until; ++k) out.push(in, k);
    if (!strip_after) {
      for (size_t k = after_start; k < after_end; ++k) out.push(in, k);
    }
    copied = after_end;
    i = after_end - 1;
  }
  for (size_t k = copied; k < s.size(); ++k) out.push(in, k);
  out.finish(in);
  return out;
}

struct Symbol {
  std::string_view text;
  TokenType type;
};
// Tried in order; "}}" is skipped inside `{ }` literals.
constexpr std::array<Symbol, 29> kSymbols = {{
    {"{%", TokenType::OpenStatement}, {"%}", TokenType::CloseStatement},
    {"{{", TokenType::OpenExpression}, {"}}", TokenType::CloseExpression},
    {"(", TokenType::OpenParen}, {")", TokenType::CloseParen},
    {"{", TokenType::OpenCurlyBracket}, {"}", TokenType::CloseCurlyBracket},
    {"[", TokenType::OpenSquareBracket}, {"]", TokenType::CloseSquareBracket},
    {",", TokenType::Comma}, {".", TokenType::Dot}, {":", TokenType::Colon}, {"|", TokenType::Pipe},
    {"<=", TokenType::ComparisonOperator}, {">=", TokenType::ComparisonOperator},
    {"==", TokenType::ComparisonOperator}, {"!=", TokenType::ComparisonOperator},
    {"<", TokenType::ComparisonOperator}, {">", TokenType::ComparisonOperator},
    {"+", TokenType::AdditiveOperator}, {"-", TokenType::AdditiveOperator},
    {"~", TokenType::AdditiveOperator}, {"**", TokenType::PowerOperator},
    {"*", TokenType::MultiplicativeOperator}, {"//", TokenType::MultiplicativeOperator},
    {"/", TokenType::MultiplicativeOperator}, {"%", TokenType::MultiplicativeOperator},
    {"=", TokenType::Equals},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(const SourceText& source) : source_(source), src_(source.text) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) step();
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& message) const {
    throw InputError(fmt::format("{}: {}", source_.locate(static_cast<uint32_t>(at)), message));
  }

  void push(TokenType type, std::string value, size_t at) {
    tokens_.push_back(Token{type, std::move(value), static_cast<uint32_t>(at)});
  }

  void strip_trailing_whitespace() {
    if (!tokens_.empty() && tokens_.back().type == TokenType::Text) {
      std::string& text = tokens_.back().value;
      text.resize(trim_end(text).size());
      if (text.empty()) tokens_.pop_back();
    }
  }

  void skip_leading_whitespace() { pos_ = skip_spaces(src_, pos_); }

  void step() {
    if (!in_tag_) {
      const size_t start = pos_;
      while (pos_ < src_.size() && !is_tag_open(src_, pos_)) ++pos_;
      if (pos_ > start) {
        push(TokenType::Text, std::string(src_.substr(start, pos_ - start)), start);
        return;
      }
      if (raw_block()) return;
    }
    if (src_.substr(pos_, 2) == "{#") {
      comment();
      return;
    }
    if (src_.substr(pos_, 3) == "{%-" || src_.substr(pos_, 3) == "{{-") {
      strip_trailing_whitespace();
      const bool statement = src_[pos_ + 1] == '%';
      push(statement ? TokenType::OpenStatement : TokenType::OpenExpression, statement ? "{%" : "{{", pos_);
      in_tag_ = true;
      curly_depth_ = 0;
      pos_ += 3;
      return;
    }
    while (size_t len = space_at(src_, pos_)) pos_ += len;
    if (pos_ >= src_.size()) return;
    if (src_.substr(pos_, 3) == "-%}" || src_.substr(pos_, 3) == "-}}") {
      const bool statement = src_[pos_ + 1] == '%';
      push(statement ? TokenType::CloseStatement : TokenType::CloseExpression, statement ? "%}" : "}}", pos_);
      in_tag_ = false;
      pos_ += 3;
      skip_leading_whitespace();
      return;
    }
    const char c = src_[pos_];
    if ((c == '-' || c == '+') && sign_or_unary(c)) return;
    for (const Symbol& symbol : kSymbols) {
      if (symbol.text == "}}" && curly_depth_ > 0) continue;
      if (src_.substr(pos_, symbol.text.size()) != symbol.text) continue;
      push(symbol.type, std::string(symbol.text), pos_);
      switch (symbol.type) {
        case TokenType::OpenStatement:
          in_tag_ = true;
          break;
        case TokenType::OpenExpression:
          in_tag_ = true;
          curly_depth_ = 0;
          break;
        case TokenType::CloseStatement:
        case TokenType::CloseExpression:
          in_tag_ = false;
          break;
        case TokenType::OpenCurlyBracket:
          ++curly_depth_;
          break;
        case TokenType::CloseCurlyBracket:
          --curly_depth_;
          break;
        default:
          break;
      }
      pos_ += symbol.text.size();
      return;
    }
    if (c == '\'' || c == '"') {
      string_literal(c);
      return;
    }
    if (is_digit(c)) {
      const size_t start = pos_;
      std::string number = digits();
      const bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::Dot;
      if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
        ++pos_;
        number += '.';
        number += digits();
      }
      push(TokenType::NumericLiteral, number, start);
      return;
    }
    if (is_word_char(c)) {
      const size_t start = pos_;
      while (pos_ < src_.size() && is_word_char(src_[pos_])) advance_in_tag();
      push(TokenType::Identifier, std::string(src_.substr(start, pos_ - start)), start);
      return;
    }
    char32_t cp = 0;
    decode_utf8(src_, pos_, cp);
    std::string shown;
    append_utf8(shown, cp);
    fail(pos_, fmt::format("unexpected character '{}'", shown));
  }

  // One character consumed inside a tag; running off the end is an error.
  void advance_in_tag() {
    ++pos_;
    if (pos_ >= src_.size()) fail(pos_, "unexpected end of template inside a tag");
  }

  std::string digits() {
    const size_t start = pos_;
    while (pos_ < src_.size() && is_digit(src_[pos_])) advance_in_tag();
    return std::string(src_.substr(start, pos_ - start));
  }

  // '-' / '+' after an operand is binary (false: the symbol table takes it);
  // elsewhere a signed number literal or a unary operator.
  bool sign_or_unary(char c) {
    if (tokens_.empty() || tokens_.back().type == TokenType::Text) {
      fail(pos_, fmt::format("unexpected character '{}'", c));
    }
    switch (tokens_.back().type) {
      case TokenType::Identifier:
      case TokenType::NumericLiteral:
      case TokenType::StringLiteral:
      case TokenType::CloseParen:
      case TokenType::CloseSquareBracket:
        return false;
      default:
        break;
    }
    const size_t start = pos_;
    ++pos_;
    std::string number = digits();
    if (!number.empty() && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      ++pos_;
      number += '.';
      number += digits();
    }
    if (number.empty()) {
      push(TokenType::UnaryOperator, std::string(1, c), start);
    } else {
      push(TokenType::NumericLiteral, std::string(1, c) + number, start);
    }
    return true;
  }

  void string_literal(char quote) {
    const size_t start = pos_;
    ++pos_;
    std::string value;
    char32_t pending_high = 0;  // a \uD8xx escape waiting for its low half
    const auto flush_high = [&] {
      if (pending_high != 0) append_utf8(value, 0xFFFD);
      pending_high = 0;
    };
    while (pos_ >= src_.size() || src_[pos_] != quote) {
      if (pos_ >= src_.size()) fail(start, "unterminated string literal");
      if (src_[pos_] != '\\') {
        flush_high();
        value += src_[pos_++];
        continue;
      }
      ++pos_;
      if (pos_ >= src_.size()) fail(start, "unterminated string literal");
      const char escaped = src_[pos_++];
      if (escaped == 'x' || escaped == 'u') {
        const size_t length = escaped == 'x' ? 2 : 4;
        const std::string_view hex = src_.substr(pos_, length);
        char32_t unit = 0;
        for (char h : hex) {
          const bool ok = is_digit(h) || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
          if (!ok) break;
          unit = unit * 16 + static_cast<char32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        bool valid = hex.size() == length;
        for (char h : hex) valid = valid && (is_digit(h) || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'));
        if (!valid) fail(pos_ - 2, fmt::format("invalid escape \\{}{}", escaped, hex));
        pos_ += length;
        if (unit >= 0xDC00 && unit <= 0xDFFF && pending_high != 0) {
          append_utf8(value, 0x10000 + ((pending_high - 0xD800) << 10) + (unit - 0xDC00));
          pending_high = 0;
        } else {
          flush_high();
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            pending_high = unit;
          } else {
            append_utf8(value, unit >= 0xDC00 && unit <= 0xDFFF ? 0xFFFD : unit);
          }
        }
        continue;
      }
      flush_high();
      switch (escaped) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\\': value += '\\'; break;
        default: fail(pos_ - 2, fmt::format("unknown escape '\\{}' in a string", escaped));
      }
    }
    flush_high();
    ++pos_;  // the closing quote
    push(TokenType::StringLiteral, std::move(value), start);
  }

  void comment() {
    const size_t start = pos_;
    pos_ += 2;
    const bool strip_before = pos_ < src_.size() && src_[pos_] == '-';
    if (strip_before) ++pos_;
    const size_t end = src_.find("#}", pos_);
    if (end == std::string_view::npos) fail(start, "comment is not closed with '#}'");
    std::string text(src_.substr(pos_, end - pos_));
    const bool strip_after = !text.empty() && text.back() == '-';
    if (strip_after) text.pop_back();
    if (strip_before) strip_trailing_whitespace();
    push(TokenType::Comment, std::move(text), start);
    in_tag_ = false;
    pos_ = end + 2;
    if (strip_after) skip_leading_whitespace();
  }

  // `{% raw %}...{% endraw %}` (with optional `-` on either tag): the content
  // is text. Returns false when no raw tag starts here.
  bool raw_block() {
    bool strip_before = false;
    bool strip_content_start = false;
    const size_t open_len = keyword_tag(pos_, "raw", strip_before, strip_content_start);
    if (open_len == 0) return false;
    const size_t content_start = pos_ + open_len;
    size_t close = content_start;
    size_t close_len = 0;
    bool strip_content_end = false;
    bool strip_after = false;
    for (;; ++close) {
      close = src_.find("{%", close);
      if (close == std::string_view::npos) fail(pos_, "'raw' block is not closed with '{% endraw %}'");
      close_len = keyword_tag(close, "endraw", strip_content_end, strip_after);
      if (close_len != 0) break;
    }
    if (strip_before) strip_trailing_whitespace();
    std::string_view content = src_.substr(content_start, close - content_start);
    if (strip_content_start) content = trim_start(content);
    if (strip_content_end) content = trim_end(content);
    if (!content.empty()) push(TokenType::Text, std::string(content), content_start);
    pos_ = close + close_len;
    if (strip_after) skip_leading_whitespace();
    return true;
  }

  // Length of `{%-? \s* WORD \s* -?%}` at `at`, 0 if it is not that tag.
  size_t keyword_tag(size_t at, std::string_view word, bool& dash_open, bool& dash_close) const {
    if (src_.substr(at, 2) != "{%") return 0;
    size_t j = at + 2;
    dash_open = j < src_.size() && src_[j] == '-';
    if (dash_open) ++j;
    j = skip_spaces(src_, j);
    if (src_.substr(j, word.size()) != word) return 0;
    j = skip_spaces(src_, j + word.size());
    dash_close = j < src_.size() && src_[j] == '-';
    if (dash_close) ++j;
    if (src_.substr(j, 2) != "%}") return 0;
    return j + 2 - at;
  }

  const SourceText& source_;
  std::string_view src_;
  size_t pos_ = 0;
  bool in_tag_ = false;
  int curly_depth_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

SourceText preprocess_template(std::string_view original, std::string name) {
  if (!is_valid_utf8(original)) throw InputError(name + ": the template is not valid UTF-8");
  if (original.size() >= UINT32_MAX) throw InputError(name + ": the template is too large");
  Mapped text;
  text.text.assign(original);
  for (size_t i = 0; i <= original.size(); ++i) text.origin.push_back(static_cast<uint32_t>(i));
  if (!text.text.empty() && text.text.back() == '\n') {
    text.text.pop_back();
    text.origin.pop_back();
  }
  text = remove_generation_markers(trim_blocks(lstrip_blocks(text)));
  SourceText source;
  source.name = std::move(name);
  source.original.assign(original);
  source.text = std::move(text.text);
  source.origin = std::move(text.origin);
  return source;
}

std::vector<Token> tokenize_template(const SourceText& source) { return Lexer(source).run(); }

}  // namespace pocketllm::jinja
