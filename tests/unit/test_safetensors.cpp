// Safetensors reader on real files written by Hugging Face's safetensors
// (facts from golden.json, written by the same Python run), on files built
// here with every dtype, and on sharded models (index + shards in a temp dir).
#include "test_support.h"
#include "formats/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kData = POCKETLLM_TEST_DATA_DIR;

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// --- a minimal writer for test files ---------------------------------------

struct TestTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

// Lays the tensors out in the given order, header padded with spaces to 8
// bytes like the reference writer.
std::vector<uint8_t> build_safetensors(const std::vector<TestTensor>& tensors,
                                       const std::map<std::string, std::string>& metadata = {}) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string data;
  for (const auto& t : tensors) data.append(t.bytes.begin(), t.bytes.end());
  return safetensors_bytes(text, data);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(seed + 7 * i);
  return bytes;
}

// Bits per element of every dtype, from the reference's Dtype::bitsize()
// (huggingface/safetensors, safetensors/src/tensor.rs, 0.6+).
const std::map<std::string, uint32_t> kReferenceBits = {
    {"BOOL", 8},   {"F4", 4},          {"F6_E2M3", 6},     {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},     {"F8_E5M2", 8},     {"F8_E4M3", 8},     {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},   {"U16", 16},        {"F16", 16},    {"BF16", 16},
    {"I32", 32},   {"U32", 32},        {"F32", 32},        {"C64", 64},    {"F64", 64},
    {"I64", 64},   {"U64", 64}};

// One tensor per dtype, shape [2, 4] (8 elements: whole bytes for 4- and 6-bit types).
std::vector<TestTensor> one_tensor_per_dtype() {
  std::vector<TestTensor> tensors;
  uint8_t seed = 1;
  for (const auto& [name, bits] : kReferenceBits) {
    tensors.push_back({"t." + name, name, {2, 4}, pattern(8 * bits / 8, seed++)});
  }
  return tensors;
}

// --- dtypes ----------------------------------------------------------------

TEST(SafetensorsDtype, EveryDtypeOfTheFormatWithItsReferenceSize) {
  ASSERT_EQ(safetensors_dtypes().size(), kReferenceBits.size());
  for (const auto& [name, bits] : kReferenceBits) {
    const auto dtype = safetensors_dtype_from_name(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_EQ(safetensors_dtype_name(*dtype), name);
    EXPECT_EQ(safetensors_dtype_traits(*dtype).bits, bits) << name;
  }
  EXPECT_FALSE(safetensors_dtype_from_name("bf16").has_value());  // names are case-sensitive
  EXPECT_FALSE(safetensors_dtype_from_name("F8_E4M3FN").has_value());
}

TEST(SafetensorsDtype, SubByteSizesMustEndOnAByte) {
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::F4, 2), 1U);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::F4, 3), std::nullopt);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::F6_E2M3, 4), 3U);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::F6_E3M2, 2), std::nullopt);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::BF16, 0), 0U);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::U64, uint64_t{1} << 57), uint64_t{1} << 60);
  EXPECT_EQ(safetensors_tensor_bytes(SafetensorsDtype::U64, uint64_t{1} << 58), std::nullopt);  // 2^64 bits
}

// --- real files ------------------------------------------------------------

// Every tensor that golden.json's "weights" lists, with its shape and dtype.
void expect_matches_golden_weights(const std::string& model) {
  const std::string folder = kData + "/hf/" + model;
  const json golden = read_json(folder + "/golden.json");
  const SafetensorsFile file = SafetensorsFile::open(folder + "/model.safetensors");

  EXPECT_EQ(file.file_size(), golden["files"]["model.safetensors"].get<uint64_t>());
  const json& listed = golden["weights"]["tensors"];
  ASSERT_EQ(file.tensors().size(), golden["weights"]["tensor_count"].get<size_t>());
  ASSERT_EQ(file.tensors().size(), listed.size());
  for (const json& entry : listed) {
    const auto name = entry[0].get<std::string>();
    const SafetensorsTensor* tensor = file.find(name);
    ASSERT_NE(tensor, nullptr) << name;
    EXPECT_EQ(tensor->name, name);
    EXPECT_EQ(tensor->shape, entry[1].get<std::vector<uint64_t>>()) << name;
    EXPECT_EQ(safetensors_dtype_name(tensor->dtype), entry[2].get<std::string>()) << name;
    uint64_t n = 1;
    for (const uint64_t d : tensor->shape) n *= d;
    EXPECT_EQ(tensor->n_elements, n);
    EXPECT_EQ(tensor->n_bytes, 2 * n);  // bf16
    EXPECT_EQ(tensor->data.size(), tensor->n_bytes);
  }
  // torch's save_file writes {"format": "pt"}.
  EXPECT_EQ(file.metadata().size(), 1U);
  EXPECT_EQ(file.metadata().at("format"), "pt");

  // Data order tiles the file from the end of the header to the last byte.
  uint64_t next = file.data_offset();
  for (const SafetensorsTensor& tensor : file.tensors()) {
    EXPECT_EQ(tensor.file_offset, next) << tensor.name;
    next += tensor.n_bytes;
  }
  EXPECT_EQ(next, file.file_size());
}

TEST(SafetensorsFile, Qwen3GoldenModelMatchesTheTensorListOfGoldenJson) {
  expect_matches_golden_weights("qwen3");
}

TEST(SafetensorsFile, GptOssGoldenModelMatchesTheTensorListOfGoldenJson) {
  expect_matches_golden_weights("gptoss");
}

TEST(SafetensorsFile, GptOssHeaderSizeAndSpacePadding) {
  // Read with Python's struct.unpack('<Q') when the file was copied: the
  // header is 7272 bytes and ends in the writer's space padding.
  const SafetensorsFile file = SafetensorsFile::open(kData + "/hf/gptoss/model.safetensors");
  EXPECT_EQ(file.header_size(), 7272U);
  EXPECT_EQ(file.data_offset(), 7280U);
  EXPECT_EQ(file.tensors().front().name, "lm_head.weight");
  EXPECT_EQ(file.tensors().front().file_offset, 7280U);
}

TEST(SafetensorsFile, GoldenReferenceTensorsOfOtherDtypesAndTheirValues) {
  // golden.safetensors holds the transformers outputs: int64 ids, float32 and
  // float64 logits. golden.json describes each one's shape and dtype.
  const std::string folder = kData + "/hf/qwen3";
  const json golden = read_json(folder + "/golden.json");
  const SafetensorsFile file = SafetensorsFile::open(folder + "/golden.safetensors");
  const std::map<std::string, std::string> dtype_names = {
      {"int64", "I64"}, {"float32", "F32"}, {"float64", "F64"}};
  ASSERT_EQ(file.tensors().size(), golden["tensors"].size());
  for (const auto& [name, info] : golden["tensors"].items()) {
    const SafetensorsTensor* tensor = file.find(name);
    ASSERT_NE(tensor, nullptr) << name;
    EXPECT_EQ(tensor->shape, info["shape"].get<std::vector<uint64_t>>()) << name;
    EXPECT_EQ(safetensors_dtype_name(tensor->dtype), dtype_names.at(info["dtype"].get<std::string>()));
  }
  // "input_ids: seeded random token ids in [0, 320)": read through the view.
  const SafetensorsTensor* ids = file.find("input_ids");
  ASSERT_NE(ids, nullptr);
  ASSERT_EQ(ids->n_elements, 40U);
  std::vector<int64_t> values(ids->n_elements);
  std::memcpy(values.data(), ids->data.data(), ids->n_bytes);
  int64_t distinct_max = -1;
  for (const int64_t v : values) {
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 320);
    distinct_max = std::max(distinct_max, v);
  }
  EXPECT_GT(distinct_max, 0);  // not all zeros: the view points at the data
}

// --- built files -----------------------------------------------------------

TEST(SafetensorsFile, EveryDtypeScalarAndEmptyTensor) {
  std::vector<TestTensor> tensors = one_tensor_per_dtype();
  tensors.push_back({"scalar", "F32", {}, pattern(4, 99)});
  tensors.push_back({"empty", "BF16", {0, 3}, {}});
  const std::vector<uint8_t> bytes = build_safetensors(tensors, {{"format", "pt"}, {"note", "x"}});
  const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "built.safetensors");

  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const TestTensor& expected : tensors) {
    const SafetensorsTensor* tensor = file.find(expected.name);
    ASSERT_NE(tensor, nullptr) << expected.name;
    EXPECT_EQ(safetensors_dtype_name(tensor->dtype), expected.dtype);
    EXPECT_EQ(tensor->shape, expected.shape);
    EXPECT_EQ(tensor->n_bytes, expected.bytes.size()) << expected.name;
    EXPECT_TRUE(std::equal(tensor->data.begin(), tensor->data.end(), expected.bytes.begin(),
                           expected.bytes.end()))
        << expected.name;
    // Zero copy: the view points into the caller's buffer.
    EXPECT_GE(tensor->data.data(), bytes.data());
    EXPECT_LE(tensor->data.data() + tensor->data.size(), bytes.data() + bytes.size());
  }
  EXPECT_EQ(file.find("scalar")->n_elements, 1U);
  EXPECT_EQ(file.find("empty")->n_elements, 0U);
  EXPECT_EQ(file.find("t.F4")->n_bytes, 4U);       // 8 x 4 bits
  EXPECT_EQ(file.find("t.F6_E2M3")->n_bytes, 6U);  // 8 x 6 bits
  EXPECT_EQ(file.find("t.C64")->n_bytes, 64U);     // 8 x 64 bits
  EXPECT_EQ(file.metadata().at("note"), "x");
  EXPECT_EQ(file.find("missing"), nullptr);
}

TEST(SafetensorsFile, TensorsComeInDataOrderWhateverTheHeaderOrder) {
  // The header is a JSON object: its key order says nothing. Lay out "z"
  // first and "a" second; tensors() follows the data.
  const std::vector<uint8_t> bytes = build_safetensors(
      {{"z", "U8", {3}, pattern(3, 1)}, {"m", "U8", {0}, {}}, {"a", "I16", {2}, pattern(4, 9)}});
  const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "order.safetensors");
  ASSERT_EQ(file.tensors().size(), 3U);
  EXPECT_EQ(file.tensors()[0].name, "z");
  EXPECT_EQ(file.tensors()[2].name, "a");
  EXPECT_EQ(file.tensors()[2].file_offset, file.data_offset() + 3);
}

TEST(SafetensorsFile, NoTensorsAtAllIsAValidFile) {
  const std::vector<uint8_t> bytes = build_safetensors({}, {{"format", "pt"}});
  const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "none.safetensors");
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.data_offset(), file.file_size());
}

TEST(SafetensorsFile, EscapedNamesAreDecoded) {
  const std::string header = R"({"caf\u00e9.w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  const std::vector<uint8_t> bytes = safetensors_bytes(header, std::string(1, '\x2a'));
  const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "escaped.safetensors");
  ASSERT_NE(file.find("caf\xC3\xA9.w"), nullptr);
  EXPECT_EQ(file.find("caf\xC3\xA9.w")->data[0], 42);
}

TEST(SafetensorsFile, MovedFileKeepsNamesAndViews) {
  const std::vector<uint8_t> bytes = build_safetensors(one_tensor_per_dtype());
  SafetensorsFile first = SafetensorsFile::from_memory(bytes, "moved.safetensors");
  const uint8_t* data = first.find("t.BF16")->data.data();
  SafetensorsFile second = std::move(first);
  ASSERT_NE(second.find("t.BF16"), nullptr);
  EXPECT_EQ(second.find("t.BF16")->data.data(), data);
  EXPECT_EQ(second.name(), "moved.safetensors");
}

TEST(SafetensorsFile, ErrorsNameTheFileAndTheTensor) {
  std::vector<uint8_t> bytes = build_safetensors({{"w", "F16", {2}, pattern(4, 1)}});
  bytes.pop_back();  // the data buffer is one byte short
  const std::string error = error_of([&] { SafetensorsFile::from_memory(bytes, "short.safetensors"); });
  EXPECT_NE(error.find("short.safetensors: tensor 'w': data_offsets [0, 4] end beyond the data buffer "
                       "of 3 bytes"),
            std::string::npos)
      << error;
}

TEST(SafetensorsFile, MissingFileIsAnInputError) {
  const std::string error = error_of([] { SafetensorsFile::open(kData + "/no/such.safetensors"); });
  EXPECT_NE(error.find("no/such.safetensors: cannot open"), std::string::npos) << error;
}

// --- sharded models --------------------------------------------------------

struct ShardedFixture {
  TempDir dir;
  std::vector<TestTensor> all = one_tensor_per_dtype();
  uint64_t total_bytes = 0;

  // Three shards, tensors dealt round-robin; returns the index path.
  fs::path write(const std::function<void(json&)>& edit_index = nullptr) {
    std::vector<std::vector<TestTensor>> shards(3);
    json weight_map = json::object();
    for (size_t i = 0; i < all.size(); ++i) {
      const std::string shard = "model-0000" + std::to_string(i % 3 + 1) + "-of-00003.safetensors";
      shards[i % 3].push_back(all[i]);
      weight_map[all[i].name] = shard;
      total_bytes += all[i].bytes.size();
    }
    for (size_t s = 0; s < 3; ++s) {
      write_file(dir.path() / ("model-0000" + std::to_string(s + 1) + "-of-00003.safetensors"),
                 build_safetensors(shards[s]));
    }
    json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    if (edit_index) edit_index(index);
    const fs::path index_path = dir.path() / "model.safetensors.index.json";
    write_file(index_path, index.dump(2));
    return index_path;
  }
};

TEST(SafetensorsModel, ShardedModelWithEveryDtype) {
  ShardedFixture fixture;
  const fs::path index = fixture.write();
  const SafetensorsModel model = SafetensorsModel::open_index(index.string());
  ASSERT_EQ(model.shards().size(), 3U);
  EXPECT_EQ(fs::path(model.shards()[0].name()).filename(), "model-00001-of-00003.safetensors");
  ASSERT_EQ(model.tensors().size(), fixture.all.size());
  for (const TestTensor& expected : fixture.all) {
    const SafetensorsTensor* tensor = model.find(expected.name);
    ASSERT_NE(tensor, nullptr) << expected.name;
    EXPECT_EQ(safetensors_dtype_name(tensor->dtype), expected.dtype);
    EXPECT_TRUE(std::equal(tensor->data.begin(), tensor->data.end(), expected.bytes.begin(),
                           expected.bytes.end()))
        << expected.name;
  }
  EXPECT_EQ(model.tensor_bytes(), fixture.total_bytes);
  EXPECT_EQ(model.declared_total_size(), fixture.total_bytes);
  EXPECT_EQ(model.find("nope"), nullptr);
}

TEST(SafetensorsModel, SingleFileIsAOneShardModel) {
  const SafetensorsModel model = SafetensorsModel::open_file(kData + "/hf/qwen3/model.safetensors");
  EXPECT_EQ(model.shards().size(), 1U);
  EXPECT_EQ(model.tensors().size(), 36U);  // golden.json: "tensor_count": 36
  ASSERT_NE(model.find("lm_head.weight"), nullptr);
  EXPECT_EQ(model.find("lm_head.weight")->n_bytes, 320U * 64U * 2U);
  EXPECT_FALSE(model.declared_total_size().has_value());
}

TEST(SafetensorsModel, MovedModelKeepsItsTensorPointers) {
  ShardedFixture fixture;
  SafetensorsModel first = SafetensorsModel::open_index(fixture.write().string());
  const SafetensorsTensor* tensor = first.find("t.U8");
  const SafetensorsModel second = std::move(first);
  EXPECT_EQ(second.find("t.U8"), tensor);
  EXPECT_EQ(second.find("t.U8")->name, "t.U8");
}

std::string index_error(const std::function<void(json&)>& edit) {
  ShardedFixture fixture;
  const fs::path index = fixture.write(edit);
  return error_of([&] { SafetensorsModel::open_index(index.string()); });
}

TEST(SafetensorsModel, ShardNamesMustStayInTheFolder) {
  for (const std::string bad : {"../model-00001-of-00003.safetensors", "sub/x.safetensors", "..",
                                "/etc/passwd", "a\\b.safetensors", ""}) {
    const std::string error = index_error([&](json& index) { index["weight_map"]["t.U8"] = bad; });
    EXPECT_NE(error.find("model.safetensors.index.json: key 'weight_map' tensor 't.U8': shard"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("is not a plain file name"), std::string::npos) << error;
  }
}

TEST(SafetensorsModel, MappedTensorMissingFromItsShard) {
  const std::string error = index_error([](json& index) {
    index["weight_map"]["ghost"] = "model-00001-of-00003.safetensors";
  });
  EXPECT_NE(error.find("tensor 'ghost': not in shard 'model-00001-of-00003.safetensors'"),
            std::string::npos)
      << error;
}

TEST(SafetensorsModel, MappedToTheWrongShard) {
  // t.BF16 is dealt to shard 1 (alphabetical position 0 of the dtype names).
  const std::string error = index_error([](json& index) {
    const std::string actual = index["weight_map"]["t.BF16"];
    index["weight_map"]["t.BF16"] = actual == "model-00002-of-00003.safetensors"
                                        ? "model-00003-of-00003.safetensors"
                                        : "model-00002-of-00003.safetensors";
  });
  EXPECT_NE(error.find("tensor 't.BF16': mapped to shard"), std::string::npos) << error;
}

TEST(SafetensorsModel, ShardTensorMissingFromTheMap) {
  const std::string error = index_error([](json& index) { index["weight_map"].erase("t.I32"); });
  EXPECT_NE(error.find("holds tensor 't.I32', which key 'weight_map' does not list"), std::string::npos)
      << error;
}

TEST(SafetensorsModel, TensorInTwoShards) {
  ShardedFixture fixture;
  const fs::path index = fixture.write();
  // Rewrite shard 3 with an extra copy of a tensor that shard 1 holds.
  const SafetensorsModel good = SafetensorsModel::open_index(index.string());
  const std::string in_shard1 = good.shards()[0].tensors().front().name;
  std::vector<TestTensor> shard3;
  for (const SafetensorsTensor& t : good.shards()[2].tensors()) {
    shard3.push_back({t.name, std::string(safetensors_dtype_name(t.dtype)), t.shape,
                      std::vector<uint8_t>(t.data.begin(), t.data.end())});
  }
  shard3.push_back({in_shard1, "U8", {1}, {7}});
  const std::vector<uint8_t> rewritten = build_safetensors(shard3);
  write_file(fixture.dir.path() / "model-00003-of-00003.safetensors", rewritten);
  const std::string error = error_of([&] { SafetensorsModel::open_index(index.string()); });
  EXPECT_NE(error.find("model-00003-of-00003.safetensors: tensor '" + in_shard1 +
                       "' is also in shard"),
            std::string::npos)
      << error;
}

TEST(SafetensorsModel, IndexFormErrors) {
  EXPECT_NE(index_error([](json& index) { index.erase("weight_map"); }).find("missing key 'weight_map'"),
            std::string::npos);
  EXPECT_NE(index_error([](json& index) { index["weight_map"] = json::array(); })
                .find("key 'weight_map': expected an object, found array"),
            std::string::npos);
  EXPECT_NE(index_error([](json& index) { index["weight_map"] = json::object(); })
                .find("key 'weight_map' lists no tensors"),
            std::string::npos);
  EXPECT_NE(index_error([](json& index) { index["weight_map"]["t.U8"] = 3; })
                .find("tensor 't.U8': shard must be a file name string, found 3"),
            std::string::npos);
  EXPECT_NE(index_error([](json& index) { index["weight_map"]["t.U8"] = "missing.safetensors"; })
                .find("missing.safetensors: cannot open"),
            std::string::npos);
  EXPECT_NE(index_error([](json& index) { index = json::array({index}); })
                .find("expected a JSON object at the top level, found array"),
            std::string::npos);
}

TEST(SafetensorsModel, BrokenShardReportsTheShardFile) {
  ShardedFixture fixture;
  const fs::path index = fixture.write();
  write_file(fixture.dir.path() / "model-00002-of-00003.safetensors", std::string("\x02\0\0\0\0\0\0\0[]", 10));
  const std::string error = error_of([&] { SafetensorsModel::open_index(index.string()); });
  EXPECT_NE(error.find("model-00002-of-00003.safetensors: offset 8: header does not start with '{'"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace pocketllm
