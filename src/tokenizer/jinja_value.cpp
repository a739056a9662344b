#include "tokenizer/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/jinja_text.h"

namespace pocketllm::jinja {

const Value* CallArgs::keyword(std::string_view name) const {
  for (const auto& [key, value] : keywords) {
    if (key == name) return &value;
  }
  return nullptr;
}

const Value* ObjectData::find(std::string_view key) const {
  for (const auto& [k, value] : entries) {
    if (k == key) return &value;
  }
  return nullptr;
}

void ObjectData::set(std::string key, Value value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.int_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::Float;
  v.float_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::array(std::vector<Value> items, bool is_tuple) {
  Value v;
  v.kind_ = Kind::Array;
  v.array_ = std::make_shared<ArrayData>(ArrayData{std::move(items), is_tuple});
  return v;
}

Value Value::object(ObjectKind kind, std::vector<std::pair<std::string, Value>> entries) {
  Value v;
  v.kind_ = Kind::Object;
  v.object_ = std::make_shared<ObjectData>(ObjectData{kind, std::move(entries)});
  return v;
}

Value Value::function(NativeFunction fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.function_ = std::make_shared<NativeFunction>(std::move(fn));
  return v;
}

namespace {

// JS orders "array index" keys (canonical decimal below 2^32 - 1) first.
bool array_index_key(const std::string& key, uint64_t& index) {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return false;
  index = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    index = index * 10 + static_cast<uint64_t>(c - '0');
  }
  return index < 4294967295ULL;
}

Value number_from_double(double d) {
  constexpr double kInt64Limit = 9223372036854775808.0;
  if (std::isfinite(d) && std::floor(d) == d && d >= -kInt64Limit && d < kInt64Limit) {
    return Value::integer(static_cast<int64_t>(d));
  }
  return Value::number(d);
}

}  // namespace

Value Value::from_json(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return none();
    case nlohmann::ordered_json::value_t::boolean:
      return boolean(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return integer(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = json.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return integer(static_cast<int64_t>(u));
      }
      return number(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return number_from_double(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return string(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item));
      return array(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<uint64_t, std::pair<std::string, Value>>> indexed;
      std::vector<std::pair<std::string, Value>> named;
      for (const auto& [key, item] : json.items()) {
        uint64_t index = 0;
        if (array_index_key(key, index)) {
          indexed.push_back({index, {key, from_json(item)}});
        } else {
          named.emplace_back(key, from_json(item));
        }
      }
      std::sort(indexed.begin(), indexed.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::pair<std::string, Value>> entries;
      for (auto& [index, entry] : indexed) entries.push_back(std::move(entry));
      for (auto& entry : named) entries.push_back(std::move(entry));
      return object(ObjectKind::Dict, std::move(entries));
    }
    default:
      return Value();  // binary and discarded values do not come from JSON text
  }
}

const std::string& Value::empty_string() {
  static const std::string empty;
  return empty;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return bool_;
    case Kind::Int:
      return int_ != 0;
    case Kind::Float:
      return float_ != 0 && !std::isnan(float_);
    case Kind::String:
      return !as_string().empty();
    case Kind::Array:
      return !array_->items.empty();
    case Kind::Object:
      return object_->kind == ObjectKind::Namespace || !object_->entries.empty();
    case Kind::Function:
      return true;
  }
  return false;
}

bool Value::same_reference(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Array: return array_ == other.array_;
    case Kind::Object: return object_ == other.object_;
    case Kind::Function: return function_ == other.function_;
    default: return false;
  }
}

std::string_view Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Array: return array_->is_tuple ? "tuple" : "list";
    case Kind::Object:
      return object_->kind == ObjectKind::Namespace ? "namespace" : "dict";
    case Kind::Function: return "function";
  }
  return "value";
}

namespace {

// RuntimeValue.toString() of the reference renderer.
std::string runtime_to_string(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "undefined";
    case Value::Kind::None: return "null";
    case Value::Kind::Bool: return value.as_bool() ? "true" : "false";
    case Value::Kind::Int: return std::to_string(value.as_int());
    case Value::Kind::Float: return float_to_output(value.as_double());
    case Value::Kind::String: return value.as_string();
    case Value::Kind::Array:
    case Value::Kind::Object: {
      JsonOptions options;
      options.undefined_as_null = false;
      return to_json_text(value, options);
    }
    case Value::Kind::Function: throw TemplateError("cannot print a function");
  }
  return "";
}

// A rough stand-in for String.prototype.localeCompare on JSON keys:
// punctuation < digits < letters, letters case-insensitive, lower case first.
bool locale_less(const std::string& a, const std::string& b) {
  const auto rank = [](char c) {
    if (c >= '0' && c <= '9') return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 2;
    return static_cast<unsigned char>(c) >= 0x80 ? 3 : 0;
  };
  const auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (rank(a[i]) != rank(b[i])) return rank(a[i]) < rank(b[i]);
    if (fold(a[i]) != fold(b[i])) return fold(a[i]) < fold(b[i]);
  }
  if (a.size() != b.size()) return a.size() < b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return a[i] > b[i];  // lower case before upper case
  }
  return false;
}

void append_unicode_escape(std::string& out, unsigned unit) {
  static const char* kHex = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
}

}  // namespace

std::string to_output(const Value& value) {
  if (value.is_none() || value.is_undefined()) return "";
  return runtime_to_string(value);
}

std::string to_js_string(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Float:
      return js_number_to_string(value.as_double());
    case Value::Kind::Array: {
      std::string out;
      for (size_t i = 0; i < value.items().size(); ++i) {
        if (i > 0) out += ',';
        out += runtime_to_string(value.items()[i]);
      }
      return out;
    }
    case Value::Kind::Object:
      return "[object Map]";
    default:
      return runtime_to_string(value);
  }
}

std::string json_quote(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, pos, cp);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20) {
          append_unicode_escape(out, static_cast<unsigned>(cp));
        } else if (ensure_ascii && cp >= 0x7F) {
          if (cp >= 0x10000) {
            const char32_t v = cp - 0x10000;
            append_unicode_escape(out, static_cast<unsigned>(0xD800 + (v >> 10)));
            append_unicode_escape(out, static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          } else {
            append_unicode_escape(out, static_cast<unsigned>(cp));
          }
        } else {
          out.append(s.substr(pos, len));
        }
    }
    pos += len;
  }
  out += '"';
  return out;
}

std::string to_json_text(const Value& value, const JsonOptions& options, int depth) {
  std::string item_separator = options.indent != 0 ? "," : ", ";
  std::string key_separator = ": ";
  if (options.has_separators) {
    item_separator = options.item_separator;
    key_separator = options.key_separator;
  }
  switch (value.kind()) {
    case Value::Kind::None:
      return "null";
    case Value::Kind::Undefined:
      return options.undefined_as_null ? "null" : "undefined";
    case Value::Kind::Bool:
      return value.as_bool() ? "true" : "false";
    case Value::Kind::Int:
      return std::to_string(value.as_int());
    case Value::Kind::Float:
      return std::isfinite(value.as_double()) ? js_number_to_string(value.as_double()) : "null";
    case Value::Kind::String:
      return json_quote(value.as_string(), options.ensure_ascii);
    case Value::Kind::Function:
      throw TemplateError("cannot convert a function to JSON");
    case Value::Kind::Array:
    case Value::Kind::Object:
      break;
  }
  const std::string indent_unit(static_cast<size_t>(options.indent), ' ');
  std::string base_padding = "\n";
  for (int i = 0; i < depth; ++i) base_padding += indent_unit;
  const std::string children_padding = base_padding + indent_unit;
  const bool indented = options.indent != 0;
  std::vector<std::string> core;
  if (value.is_array()) {
    for (const Value& item : value.items()) core.push_back(to_json_text(item, options, depth + 1));
    std::string out = "[";
    if (indented && !core.empty()) {
      out += children_padding;
      for (size_t i = 0; i < core.size(); ++i) {
        if (i > 0) out += item_separator + children_padding;
        out += core[i];
      }
      return out + base_padding + "]";
    }
    for (size_t i = 0; i < core.size(); ++i) {
      if (i > 0) out += item_separator;
      out += core[i];
    }
    return out + "]";
  }
  std::vector<const std::pair<std::string, Value>*> entries;
  for (const auto& entry : value.object_data().entries) entries.push_back(&entry);
  if (options.sort_keys) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto* a, const auto* b) { return locale_less(a->first, b->first); });
  }
  std::string out = "{";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += item_separator;
    if (indented) out += children_padding;
    out += json_quote(entries[i]->first, options.ensure_ascii) + key_separator +
           to_json_text(entries[i]->second, options, depth + 1);
  }
  if (indented && !entries.empty()) out += base_padding;
  return out + "}";
}

}  // namespace pocketllm::jinja
