// The Jinja interpreter: every snippet of snippets.json (statements,
// expressions, filters, tests, methods, whitespace control, printing of
// values, errors) rendered byte-identically to the reference renderer,
// @huggingface/jinja, run live with node from tests/js; then what pocketllm
// adds where the reference has nothing (checked against Jinja2's documented
// behaviour), error positions, and the guards against runaway templates.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/jinja_template.h"
#include "tokenizer/jinja_text.h"
#include "util/error.h"

namespace pocketllm::jinja {
namespace {

namespace fs = std::filesystem;

const std::string kSnippets = std::string(POCKETLLM_TEST_DATA_DIR) + "/chat_templates/snippets.json";
const std::string kJsDir = std::string(POCKETLLM_TEST_DATA_DIR) + "/../js";

std::string render(const std::string& text, const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  return Template::parse(text, "t").render(context);
}

std::string error_of(const std::string& text, const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  try {
    render(text, context);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JinjaSnippets, MatchTheReferenceRenderer) {
  ASSERT_TRUE(fs::exists(kJsDir + "/node_modules/@huggingface/jinja"))
      << "tests/js/node_modules is missing: run scripts/test.sh (or `npm ci` in tests/js)";
  FILE* pipe = ::popen(("node " + kJsDir + "/render_templates.mjs " + kSnippets).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::map<std::string, nlohmann::json> expected;
  for (const auto& entry : nlohmann::json::parse(out)) expected[entry["name"]] = entry;

  std::ifstream in(kSnippets);
  const auto snippets = nlohmann::ordered_json::parse(in);
  ASSERT_GE(snippets.size(), 40u);
  for (const auto& snippet : snippets) {
    const std::string name = snippet["name"];
    const nlohmann::json& reference = expected.at(name);
    std::string output;
    std::string error;
    try {
      output = render(snippet["template"], snippet["context"]);
    } catch (const InputError& e) {
      error = e.what();
    }
    if (reference.contains("output")) {
      EXPECT_EQ(error, "") << name;
      EXPECT_EQ(output, reference["output"].get<std::string>()) << name;
    } else {
      EXPECT_NE(error, "") << name << ": the reference fails ('" << reference["error"].get<std::string>()
                           << "'), pocketllm rendered: " << output;
    }
  }
}

// Jinja2 features the reference lacks (it fails on each of these).
TEST(JinjaExtensions, FollowJinja2) {
  EXPECT_EQ(render("{% raw %}{{ not rendered }} {% if %}{% endraw %}!"), "{{ not rendered }} {% if %}!");
  EXPECT_EQ(render("a {%- raw -%}  {{x}}  {%- endraw -%} b"), "a{{x}}b");
  EXPECT_EQ(render("{{ [0, 1, 2, '', 'a'] | select | list }} {{ [1, 2, 3, 4] | reject('odd') }}"), "[1, 2, \"a\"] [2, 4]");
  EXPECT_EQ(render("{{ 9 is divisibleby 3 }} {{ 10 is divisibleby(3) }} {{ 2 is in([1, 2]) }} {{ 'a' is eq('a') }}"),
            "true false true true");
  EXPECT_EQ(render("{{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 2.1 | round(0, 'ceil') }}"), "2.57 3.0 3.0");
  EXPECT_EQ(render("{{ '<a href=\"x\">&\\'</a>' | escape }}"), "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(render("{% set xs = [] %}{% for i in range(3) %}{{ xs.append(i * i) }}{% endfor %}{{ xs }}"), "[0, 1, 4]");
  EXPECT_EQ(render("{% for c in 'héllo' %}{{ c }}.{% endfor %} {{ 'abc' | first }}{{ 'abc' | last }} {{ 'abc' | reverse }}"),
            "h.é.l.l.o. ac cba");
  EXPECT_EQ(render("{{ missing | default }}|{{ missing | d('x') }}|{{ 'b' > 'a' }}"), "|x|true");
}

TEST(JinjaValues, ContextJsonKeepsKeyOrderAndIntegralNumbers) {
  const auto context = nlohmann::ordered_json::parse(R"({"o": {"z": 1, "2": "two", "a": 1.0, "1": 1.5}})");
  // JS objects put array-index keys first; 1.0 is an integer after JSON.parse.
  EXPECT_EQ(render("{{ o | tojson }}", context), R"({"1": 1.5, "2": "two", "z": 1, "a": 1})");
}

TEST(JinjaText, NumbersPrintAsJavaScriptDoes) {
  EXPECT_EQ(js_number_to_string(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(js_number_to_string(1e21), "1e+21");
  EXPECT_EQ(js_number_to_string(123e-20), "1.23e-18");
  EXPECT_EQ(js_number_to_string(-1.5e-7), "-1.5e-7");
  EXPECT_EQ(js_number_to_string(0.000001), "0.000001");
  EXPECT_EQ(js_number_to_string(100), "100");
  EXPECT_EQ(float_to_output(3.0), "3.0");
  EXPECT_EQ(float_to_output(-0.0), "-0.0");
  EXPECT_EQ(float_to_output(1e21), "1e+21");
  EXPECT_EQ(utf16_length("a\xC3\xA9\xF0\x9F\x98\x80"), 4u);  // a é 😀 (a surrogate pair)
}

TEST(JinjaErrors, NameLineAndColumn) {
  EXPECT_EQ(error_of("line one\n  {{ 1 +* 2 }}"), "t line 2 column 9: unexpected an operator");
  EXPECT_EQ(error_of("{% for x in y %}\n{% endif %}"),
            "t line 2 column 4: unexpected 'endif': the 'for' at t line 1 column 1 is still open");
  EXPECT_EQ(error_of("{% while true %}{% endwhile %}"), "t line 1 column 4: unknown or unsupported statement 'while'");
  EXPECT_EQ(error_of("ok {{ 'unterminated }}"), "t line 1 column 7: unterminated string literal");
  EXPECT_EQ(error_of("{{ x ! y }}"), "t line 1 column 6: unexpected character '!'");
  EXPECT_EQ(error_of("{# open"), "t line 1 column 1: comment is not closed with '#}'");
  EXPECT_EQ(error_of("\n\n   {{ raise_exception('bad ' ~ 1) }}"), "t line 3 column 7: raise_exception: bad 1");
  EXPECT_EQ(error_of("{{ x.y.z + 1 }}"), "t line 1 column 10: cannot apply '+' to an undefined value");
  EXPECT_EQ(error_of("{{ [1] | tojson(indent='x') }}"),
            "t line 1 column 8: tojson: indent must be a small non-negative integer");
  EXPECT_EQ(error_of("{{ x }}", {{"true", 1}}), "t: 'true' is a builtin name and cannot be passed to the template");
}

TEST(JinjaErrors, LinesAreThoseOfTheOriginalText) {
  // Positions survive trim_blocks/lstrip_blocks and removed generation markers.
  EXPECT_EQ(error_of("{% if true %}\n    {% generation %}\n  {% set %}\n{% endif %}"),
            "t line 3 column 10: unexpected '%}'");
}

TEST(JinjaGuards, RunawayTemplatesStop) {
  EXPECT_EQ(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nests more than 64 calls deep") !=
                std::string::npos,
            true);
  EXPECT_NE(error_of("{{ range(2000000) | length }}").find("range() is too long"), std::string::npos);
  const nlohmann::ordered_json big = {{"text", std::string(6u << 20, 'x')}};
  EXPECT_NE(error_of("{% set s = namespace(v=text) %}{% for i in range(30) %}{% set s.v = s.v ~ s.v %}{% endfor %}", big)
                .find("grows beyond 16 MiB"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}").find("nests too deeply"), std::string::npos);
  EXPECT_NE(error_of("\xFF{{ 1 }}").find("not valid UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace pocketllm::jinja
