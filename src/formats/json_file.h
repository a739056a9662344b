#pragma once
// JSON from untrusted sources (config.json, generation_config.json,
// model.safetensors.index.json, safetensors headers) parsed with limits and
// errors that fit on one line:
//   "PATH: line L column C: problem"   (a file)
//   "PATH: offset N: problem"           (JSON embedded in a binary file)
// Limits beyond plain JSON: nesting deeper than kMaxJsonDepth and an object
// that repeats a key are errors (nlohmann silently keeps the last duplicate).
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pocketllm {

// Deepest nesting of arrays/objects accepted. Real model files need 4 or 5;
// a limit keeps recursive consumers (dump, compare, copy) off the stack's edge.
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text`. On a problem throws InputError(locate(byte) + ": " + problem),
// where byte is the 0-based offset in `text` where the problem was noticed
// (too deep: the opening bracket; a repeated key: its closing quote).
nlohmann::json parse_untrusted_json(std::string_view text,
                                    const std::function<std::string(size_t byte)>& locate);

// "line L column C" (1-based, as editors count bytes) of byte offset `byte`.
std::string json_line_column(std::string_view text, size_t byte);

// Reads and parses the JSON file at `path`; errors as "PATH: line L column C: problem"
// (or "PATH: cannot open: ..." from the file layer).
nlohmann::json load_json_file(const std::string& path);
// Same, and the top-level value must be an object ("PATH: expected a JSON object ...").
nlohmann::json load_json_object_file(const std::string& path);

// A key or string value from a file, made safe to print inside an error
// message: quoted, control characters escaped, cut after 120 bytes.
std::string quote_for_message(std::string_view text);

// "object", "array", "string", "integer", "number", "boolean", "null".
std::string_view json_type_name(const nlohmann::json& value);

}  // namespace pocketllm
