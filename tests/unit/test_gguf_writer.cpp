// GgufWriter: everything written reads back equal through GgufFile, and files
// written by llama.cpp and gguf-py re-write byte for byte (the external check
// that the layout, padding and offsets are the ones ggml produces).
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "util/error.h"
#include "test_support.h"

namespace pocketllm {
namespace {

using VT = GgufValueType;

std::vector<uint8_t> read_all(const std::string& path) { return pocketllm::test_support::read_file_u8(path); }

// A path in a fresh per-test folder, removed afterwards.
class GgufWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("gguf_writer_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// Deep comparison of two values (float NaN compared by bits).
void expect_same(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type(), b.type()) << where;
  switch (a.type()) {
    case VT::FLOAT32:
    case VT::FLOAT64:
      EXPECT_EQ(std::bit_cast<uint64_t>(*a.as_float()), std::bit_cast<uint64_t>(*b.as_float())) << where;
      break;
    case VT::BOOL: EXPECT_EQ(a.as_bool(), b.as_bool()) << where; break;
    case VT::STRING: EXPECT_EQ(a.as_string(), b.as_string()) << where; break;
    case VT::ARRAY:
      ASSERT_EQ(a.array_type(), b.array_type()) << where;
      ASSERT_EQ(a.array().size(), b.array().size()) << where;
      for (size_t i = 0; i < a.array().size(); ++i) {
        expect_same(a.array()[i], b.array()[i], where + "[" + std::to_string(i) + "]");
      }
      break;
    default:
      EXPECT_EQ(a.as_uint(), b.as_uint()) << where;
      EXPECT_EQ(a.as_int(), b.as_int()) << where;
  }
}

TEST_F(GgufWriterTest, EveryValueTypeRoundTrips) {
  std::vector<std::pair<std::string, GgufValue>> values = {
      {"u8", GgufValue::make_uint(VT::UINT8, 255)},
      {"i8", GgufValue::make_int(VT::INT8, -128)},
      {"u16", GgufValue::make_uint(VT::UINT16, 65535)},
      {"i16", GgufValue::make_int(VT::INT16, -32768)},
      {"u32", GgufValue::make_uint(VT::UINT32, 4294967295u)},
      {"i32", GgufValue::make_int(VT::INT32, std::numeric_limits<int32_t>::min())},
      {"u64", GgufValue::make_uint(VT::UINT64, std::numeric_limits<uint64_t>::max())},
      {"i64", GgufValue::make_int(VT::INT64, std::numeric_limits<int64_t>::min())},
      {"f32", GgufValue::make_float(VT::FLOAT32, 0.1)},  // stored as 0.1f
      {"f64", GgufValue::make_float(VT::FLOAT64, -1e300)},
      {"f64.nan", GgufValue::make_float(VT::FLOAT64, std::numeric_limits<double>::quiet_NaN())},
      {"bool.t", GgufValue::make_bool(true)},
      {"bool.f", GgufValue::make_bool(false)},
      {"str", GgufValue::make_string(std::string("h\xc3\xa9llo\nw\0rld", 12))},
      {"str.empty", GgufValue::make_string("")},
      {"str.view", GgufValue::make_string_view("not owned")},
      {"arr.empty", GgufValue::make_array(VT::INT32, {})},
      {"arr.f32", GgufValue::make_array(VT::FLOAT32, {GgufValue::make_float(VT::FLOAT32, 1.5),
                                                      GgufValue::make_float(VT::FLOAT32, -2.25)})},
      {"arr.str", GgufValue::make_array(VT::STRING, {GgufValue::make_string("a"), GgufValue::make_string(""),
                                                     GgufValue::make_string("ccc")})},
      {"arr.bool", GgufValue::make_array(VT::BOOL, {GgufValue::make_bool(true), GgufValue::make_bool(false)})},
      {"arr.u64", GgufValue::make_array(VT::UINT64, {GgufValue::make_uint(VT::UINT64, 1ull << 63)})},
      // Array of arrays, the inner ones of different element types, and a
      // third level.
      {"arr.nested",
       GgufValue::make_array(
           VT::ARRAY, {GgufValue::make_array(VT::INT16, {GgufValue::make_int(VT::INT16, -7)}),
                       GgufValue::make_array(VT::STRING, {GgufValue::make_string("x")}),
                       GgufValue::make_array(VT::ARRAY, {GgufValue::make_array(VT::UINT8, {})})})},
  };
  GgufWriter w;
  for (const auto& [key, value] : values) w.add(key, value);
  w.write(path("values.gguf"));

  const GgufFile f = GgufFile::open(path("values.gguf"));
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, values[i].first);  // order kept
    expect_same(f.metadata()[i].value, values[i].second, values[i].first);
  }
  EXPECT_EQ(f.get_float("f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f.get_string("str")->size(), 12u);  // embedded NUL kept
  EXPECT_EQ(f.get_uint("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_THROW((void)f.get_int("u64"), InputError);  // above INT64_MAX
  EXPECT_EQ(f.find("arr.nested")->array()[2].array()[0].array_type(), VT::UINT8);
  EXPECT_TRUE(f.tensors().empty());
}

TEST_F(GgufWriterTest, IntegerGettersConvertWithRangeChecks) {
  GgufWriter w;
  w.add("neg", GgufValue::make_int(VT::INT32, -5));
  w.add("big", GgufValue::make_uint(VT::UINT64, std::numeric_limits<uint64_t>::max()));
  w.add("small", GgufValue::make_uint(VT::UINT8, 200));
  w.add("mixed", GgufValue::make_array(VT::INT64, {GgufValue::make_int(VT::INT64, -1),
                                                   GgufValue::make_int(VT::INT64, 3)}));
  w.write(path("ints.gguf"));
  const GgufFile f = GgufFile::open(path("ints.gguf"));
  EXPECT_EQ(f.get_int("neg"), -5);
  EXPECT_THROW((void)f.get_uint("neg"), InputError);   // negative as unsigned
  EXPECT_EQ(f.get_uint("big"), std::numeric_limits<uint64_t>::max());
  EXPECT_THROW((void)f.get_int("big"), InputError);    // above INT64_MAX
  EXPECT_EQ(f.get_int("small"), 200);
  EXPECT_EQ(f.get_float("neg"), -5.0);
  EXPECT_EQ(f.get_int_array("mixed"), (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(f.get_float_array("mixed"), (std::vector<double>{-1.0, 3.0}));
}

TEST_F(GgufWriterTest, TensorsOfSeveralTypesRoundTrip) {
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    GgmlType type;
    size_t bytes;
  };
  const std::vector<T> specs = {
      {"f32", {3, 2}, GgmlType::F32, 24},
      {"f16", {5}, GgmlType::F16, 10},
      {"bf16", {2, 2, 2}, GgmlType::BF16, 16},
      {"q4_0", {64, 2}, GgmlType::Q4_0, 4 * 18},
      {"q4_k", {256, 1, 1, 3}, GgmlType::Q4_K, 3 * 144},
      {"q6_k", {512}, GgmlType::Q6_K, 2 * 210},
      {"mxfp4", {32, 3}, GgmlType::MXFP4, 3 * 17},
      {"i8", {7}, GgmlType::I8, 7},
      {"empty", {0, 4}, GgmlType::F32, 0},
  };
  std::vector<std::vector<uint8_t>> data;
  GgufWriter w;
  w.add("general.architecture", GgufValue::make_string("test"));
  for (size_t i = 0; i < specs.size(); ++i) data.push_back(pattern(specs[i].bytes, static_cast<uint8_t>(i)));
  for (size_t i = 0; i < specs.size(); ++i) w.add_tensor(specs[i].name, specs[i].ne, specs[i].type, data[i]);
  // One more streamed by a callback in two pieces.
  const std::vector<uint8_t> streamed = pattern(34 * 2, 99);
  w.add_tensor("streamed_q8_0", {32, 2}, GgmlType::Q8_0, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(streamed.data()), 30);
    out.write(reinterpret_cast<const char*>(streamed.data()) + 30, 38);
  });
  w.write(path("tensors.gguf"));

  const GgufFile f = GgufFile::open(path("tensors.gguf"));
  ASSERT_EQ(f.tensors().size(), specs.size() + 1);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  for (size_t i = 0; i < specs.size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    SCOPED_TRACE(specs[i].name);
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.ne, specs[i].ne);
    EXPECT_EQ(t.type, specs[i].type);
    EXPECT_EQ(t.n_bytes, specs[i].bytes);
    EXPECT_EQ(t.offset % 32, 0u);
    const auto bytes = f.tensor_data(t);
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), data[i]);
  }
  const auto s = f.tensor_data(*f.find_tensor("streamed_q8_0"));
  EXPECT_EQ(std::vector<uint8_t>(s.begin(), s.end()), streamed);
  // Offsets are the running sum of sizes padded to 32: f32 24 -> 32, f16 10 -> 32.
  EXPECT_EQ(f.find_tensor("f16")->offset, 32u);
  EXPECT_EQ(f.find_tensor("bf16")->offset, 64u);
  EXPECT_EQ(f.find_tensor("q4_0")->offset, 96u);
  // The file ends with the last tensor's padding.
  EXPECT_EQ(f.file_size(), f.data_offset() + f.find_tensor("streamed_q8_0")->offset + 96);
}

TEST_F(GgufWriterTest, AlignmentIsWrittenAndUsed) {
  GgufWriter w;
  w.add("general.architecture", GgufValue::make_string("test"));
  w.set_alignment(64);
  const auto a = pattern(4, 1);
  const auto b = pattern(8, 2);
  w.add_tensor("a", {1}, GgmlType::F32, a);
  w.add_tensor("b", {2}, GgmlType::F32, b);
  w.set_alignment(128);  // replaces the key, does not add a second one
  w.write(path("aligned.gguf"));
  const GgufFile f = GgufFile::open(path("aligned.gguf"));
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.find("general.alignment")->type(), VT::UINT32);
  EXPECT_EQ(f.data_offset() % 128, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, 128u);
  EXPECT_EQ(f.file_size(), f.data_offset() + 256);
}

TEST_F(GgufWriterTest, RefusesBadArguments) {
  GgufWriter w;
  w.add("k", GgufValue::make_bool(true));
  EXPECT_THROW(w.add("k", GgufValue::make_bool(false)), std::invalid_argument);
  EXPECT_THROW(w.add("general.alignment", GgufValue::make_uint(VT::UINT32, 48)), std::invalid_argument);
  EXPECT_THROW(w.add("general.alignment", GgufValue::make_uint(VT::UINT64, 32)), std::invalid_argument);
  EXPECT_THROW(w.set_alignment(0), std::invalid_argument);
  const auto d = pattern(18, 0);
  EXPECT_THROW(w.add_tensor("q", {33}, GgmlType::Q4_0, d), std::invalid_argument);       // not whole blocks
  EXPECT_THROW(w.add_tensor("q", {32}, GgmlType::Q4_0, pattern(17, 0)), std::invalid_argument);  // wrong size
  EXPECT_THROW(w.add_tensor("q", {32, 1, 1, 1, 1}, GgmlType::Q4_0, d), std::invalid_argument);  // 5 dims
  w.add_tensor("q", {32}, GgmlType::Q4_0, d);  // the failed attempts left no trace
  EXPECT_THROW(w.add_tensor("q", {32}, GgmlType::Q4_0, d), std::invalid_argument);       // duplicate
  EXPECT_EQ(w.tensor_count(), 1u);
  // Builders check ranges and kinds.
  EXPECT_THROW(GgufValue::make_uint(VT::UINT8, 256), std::invalid_argument);
  EXPECT_THROW(GgufValue::make_int(VT::UINT32, -1), std::invalid_argument);
  EXPECT_THROW(GgufValue::make_int(VT::INT8, 128), std::invalid_argument);
  EXPECT_THROW(GgufValue::make_float(VT::INT32, 1.0), std::invalid_argument);
  EXPECT_THROW(GgufValue::make_array(VT::INT32, {GgufValue::make_bool(true)}), std::invalid_argument);
}

TEST_F(GgufWriterTest, ShortStreamedTensorFailsAndLeavesNoFile) {
  GgufWriter w;
  w.add_tensor("t", {4}, GgmlType::F32, [](std::ostream& out) { out.write("abc", 3); });
  EXPECT_THROW(w.write(path("short.gguf")), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path("short.gguf")));
  EXPECT_FALSE(std::filesystem::exists(path("short.gguf.partial")));
}

// Reads `source` and writes its metadata and tensors back in file order.
void rewrite(const GgufFile& source, const std::string& out_path) {
  GgufWriter w;
  for (const GgufKeyValue& kv : source.metadata()) w.add(std::string(kv.key), kv.value);
  for (const GgufTensorInfo& t : source.tensors()) {
    w.add_tensor(std::string(t.name), t.ne, t.type, source.tensor_data(t));
  }
  w.write(out_path);
}

// llama.cpp (convert-llama2c-to-ggml) wrote stories260K.gguf; gguf-py wrote
// the two others. Equal bytes mean the same layout, padding and offsets.
TEST_F(GgufWriterTest, RewritesRealFilesByteForByte) {
  for (const std::string& name :
       {std::string(POCKETLLM_TEST_DATA_DIR "/../../models/stories260K.gguf"),
        std::string(POCKETLLM_TEST_DATA_DIR "/gguf/llama-2-tiny-random.gguf"),
        std::string(POCKETLLM_TEST_DATA_DIR "/gguf/ggml-vocab-bert-bge.gguf")}) {
    SCOPED_TRACE(name);
    const GgufFile source = GgufFile::open(name);
    rewrite(source, path("copy.gguf"));
    const std::vector<uint8_t> original = read_all(name);
    const std::vector<uint8_t> copy = read_all(path("copy.gguf"));
    ASSERT_EQ(copy.size(), original.size());
    EXPECT_TRUE(copy == original);
  }
}

}  // namespace
}  // namespace pocketllm
