#include "formats/json_file.h"

#include <iterator>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "util/error.h"
#include "util/mapped_file.h"

namespace pocketllm {
namespace {

// An iterator over the text that publishes how far the lexer has read:
// nlohmann 3.11 gives SAX handlers no position, and the checks below want
// to say where a repeated key or a too-deep bracket is.
class TrackedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackedIterator(const char* position, const char** high_water)
      : position_(position), high_water_(high_water) {}
  reference operator*() const { return *position_; }
  TrackedIterator& operator++() {
    ++position_;
    *high_water_ = position_;
    return *this;
  }
  TrackedIterator operator++(int) {
    TrackedIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const TrackedIterator& other) const { return position_ == other.position_; }
  bool operator!=(const TrackedIterator& other) const { return position_ != other.position_; }

 private:
  const char* position_;
  const char** high_water_;
};

// The nlohmann parse error text without its "[json.exception...] parse error
// at line L, column C: " prefix (the caller states the location its own way),
// with anything unprintable replaced so the message stays on one line.
std::string problem_from_parse_error(const std::string& what) {
  std::string_view text = what;
  const size_t column = text.find("column ");
  if (column != std::string_view::npos) {
    const size_t colon = text.find(": ", column);
    if (colon != std::string_view::npos) text.remove_prefix(colon + 2);
  } else if (const size_t bracket = text.find("] "); bracket != std::string_view::npos) {
    text.remove_prefix(bracket + 2);
  }
  // "last read: '...'" quotes the current token, which may be a whole
  // (hostile, huge) string literal.
  constexpr size_t kMaxProblem = 240;
  const bool cut = text.size() > kMaxProblem;
  if (cut) text = text.substr(0, kMaxProblem);
  std::string problem;
  problem.reserve(text.size() + 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    problem.push_back(byte < 0x20 || byte >= 0x7f ? '?' : c);
  }
  if (cut) problem += "...";
  return problem;
}

// First pass over the text: syntax (nlohmann's own lexer and parser, which
// are iterative), nesting depth, and repeated keys. Builds nothing.
class JsonChecker {
 public:
  using json = nlohmann::json;

  JsonChecker(std::string_view text, const std::function<std::string(size_t)>& locate,
              const char** high_water)
      : text_(text), locate_(locate), high_water_(high_water) {}

  bool null() { return true; }
  bool boolean(bool /*value*/) { return true; }
  bool number_integer(json::number_integer_t /*value*/) { return true; }
  bool number_unsigned(json::number_unsigned_t /*value*/) { return true; }
  bool number_float(json::number_float_t /*value*/, const json::string_t& /*text*/) { return true; }
  bool string(json::string_t& /*value*/) { return true; }
  bool binary(json::binary_t& /*value*/) { return true; }

  bool start_object(size_t /*elements*/) {
    enter();
    object_keys_.emplace_back();
    return true;
  }
  bool end_object() {
    object_keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(size_t /*elements*/) {
    enter();
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& name) {
    // Keys always belong to the innermost open object: arrays have none.
    if (!object_keys_.back().insert(name).second) {
      fail(last_read(), "duplicate key " + quote_for_message(name));
    }
    return true;
  }
  bool parse_error(size_t position, const std::string& /*last_token*/,
                   const nlohmann::json::exception& error) {
    // `position` counts bytes read, the offending one included.
    fail(position > 0 ? position - 1 : 0, problem_from_parse_error(error.what()));
    return false;
  }

 private:
  void enter() {
    if (++depth_ > kMaxJsonDepth) {
      fail(last_read(), fmt::format("nesting deeper than {} levels", kMaxJsonDepth));
    }
  }
  // Offset of the byte the lexer read last (the bracket, or a key's closing quote).
  size_t last_read() const {
    const auto read = static_cast<size_t>(*high_water_ - text_.data());
    return read > 0 ? read - 1 : 0;
  }
  [[noreturn]] void fail(size_t byte, const std::string& problem) const {
    throw InputError(locate_(byte) + ": " + problem);
  }

  std::string_view text_;
  const std::function<std::string(size_t)>& locate_;
  const char** high_water_;
  size_t depth_ = 0;
  std::vector<std::unordered_set<std::string>> object_keys_;  // one per open object
};

}  // namespace

nlohmann::json parse_untrusted_json(std::string_view text,
                                    const std::function<std::string(size_t byte)>& locate) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // accept "{}\0garbage"; no valid JSON text contains a raw NUL.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw InputError(locate(nul) + ": NUL byte (JSON text never contains one)");
  }
  const char* high_water = text.data();
  JsonChecker checker(text, locate, &high_water);
  const TrackedIterator first(text.data(), &high_water);
  const TrackedIterator last(text.data() + text.size(), &high_water);
  if (!nlohmann::json::sax_parse(first, last, &checker)) {
    // parse_error() throws; a false return without it would be a checker bug.
    throw InputError(locate(text.size()) + ": invalid JSON");
  }
  // Second pass builds the values; the text is known to be well formed.
  return nlohmann::json::parse(text.begin(), text.end());
}

std::string json_line_column(std::string_view text, size_t byte) {
  if (byte > text.size()) byte = text.size();
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < byte; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("line {} column {}", line, byte - line_start + 1);
}

nlohmann::json load_json_file(const std::string& path) {
  const MappedFile file = MappedFile::open(path);
  const std::span<const uint8_t> bytes = file.bytes();
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return parse_untrusted_json(
      text, [&](size_t byte) { return path + ": " + json_line_column(text, byte); });
}

nlohmann::json load_json_object_file(const std::string& path) {
  nlohmann::json value = load_json_file(path);
  if (!value.is_object()) {
    throw InputError(fmt::format("{}: expected a JSON object at the top level, found {}", path,
                                 json_type_name(value)));
  }
  return value;
}

std::string quote_for_message(std::string_view text) {
  constexpr size_t kMaxShown = 120;
  std::string quoted = "'";
  size_t shown = 0;
  for (; shown < text.size() && shown < kMaxShown; ++shown) {
    const auto byte = static_cast<unsigned char>(text[shown]);
    if (byte == '\'' || byte == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(byte);
    } else if (byte < 0x20 || byte == 0x7f) {
      quoted += fmt::format("\\x{:02x}", byte);
    } else {
      quoted += static_cast<char>(byte);
    }
  }
  if (shown < text.size()) {
    // Do not end inside a UTF-8 sequence: drop trailing continuation bytes
    // and the lead byte they belong to.
    while (quoted.size() > 1 && (static_cast<unsigned char>(quoted.back()) & 0xC0) == 0x80) {
      quoted.pop_back();
    }
    if (quoted.size() > 1 && static_cast<unsigned char>(quoted.back()) >= 0xC0) quoted.pop_back();
    quoted += "...";
  }
  quoted += '\'';
  return quoted;
}

std::string_view json_type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::binary: return "binary";
    case nlohmann::json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

}  // namespace pocketllm
