// `pocketllm bench`: llama-bench's -d DEPTH (JSON field n_depth) and its
// comma lists, one result row per combination in llama-bench's order
// (threads, K type, V type, depth, then the pp tests, then the tg tests).
// Speed is not checked (no timed tests): the rows, their fields and the
// sample counts are, on the embedded model with small sizes.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace pocketllm {
namespace {

using test_support::run_pocketllm;

nlohmann::json bench_json(const std::string& args) {
  const test_support::RunResult r = run_pocketllm("bench " + args + " -o json");
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(CliBench, DepthGivesOneRowPerTestWithNDepth) {
  const nlohmann::json rows = bench_json("-p 8 -n 4 -d 16 -r 1 -t 1");
  ASSERT_EQ(rows.size(), 2u) << rows.dump(1);
  EXPECT_EQ(rows[0]["n_prompt"], 8);
  EXPECT_EQ(rows[0]["n_gen"], 0);
  EXPECT_EQ(rows[1]["n_prompt"], 0);
  EXPECT_EQ(rows[1]["n_gen"], 4);
  for (const nlohmann::json& row : rows) {
    EXPECT_EQ(row["n_depth"], 16);
    EXPECT_EQ(row["n_threads"], 1);
    EXPECT_EQ(row["type_k"], "f16");
    EXPECT_EQ(row["type_v"], "f16");
    EXPECT_EQ(row["samples_ns"].size(), 1u);  // -r 1: the warm-up is not a sample
    EXPECT_EQ(row["samples_ts"].size(), 1u);
    EXPECT_GT(row["avg_ts"].get<double>(), 0.0);
    EXPECT_EQ(row["stddev_ts"].get<double>(), 0.0);  // one sample
  }
}

TEST(CliBench, CommaListsGiveEveryCombinationInLlamaBenchOrder) {
  const nlohmann::json rows = bench_json("-p 8,4 -n 2 -d 0,16 -t 1,2 -r 1");
  // 2 thread counts x 2 depths x (2 pp tests + 1 tg test).
  ASSERT_EQ(rows.size(), 12u) << rows.dump(1);
  size_t i = 0;
  for (const int threads : {1, 2}) {
    for (const int depth : {0, 16}) {
      for (const auto& [n_prompt, n_gen] : {std::pair{8, 0}, std::pair{4, 0}, std::pair{0, 2}}) {
        const nlohmann::json& row = rows[i++];
        EXPECT_EQ(row["n_threads"], threads) << i;
        EXPECT_EQ(row["n_depth"], depth) << i;
        EXPECT_EQ(row["n_prompt"], n_prompt) << i;
        EXPECT_EQ(row["n_gen"], n_gen) << i;
      }
    }
  }
}

TEST(CliBench, KvTypeListsGiveOneRowPerPair) {
  const nlohmann::json rows = bench_json("-p 0 -n 2 --ctk f16,f32 --ctv f32 -r 1 -t 1");
  ASSERT_EQ(rows.size(), 2u) << rows.dump(1);
  EXPECT_EQ(rows[0]["type_k"], "f16");
  EXPECT_EQ(rows[1]["type_k"], "f32");
  for (const nlohmann::json& row : rows) EXPECT_EQ(row["type_v"], "f32");
}

TEST(CliBench, MarkdownNamesTheDepthAsLlamaBenchDoes) {
  const test_support::RunResult r = run_pocketllm("bench -p 8 -n 2 -d 16 -r 1 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| pp8 @ d16 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg2 @ d16 |"), std::string::npos) << r.out;
}

TEST(CliBench, BadListsAreInputErrors) {
  for (const char* args : {"-d -1", "-p 8,x", "-p 0 -n 0", "-t 1,y"}) {
    const test_support::RunResult r = run_pocketllm(std::string("bench -r 1 ") + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

}  // namespace
}  // namespace pocketllm
