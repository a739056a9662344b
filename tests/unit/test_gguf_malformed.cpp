// Every hand-made malformed file (tests/data/gguf/malformed, listed with the
// words its error must contain in EXPECTED.txt) is refused with a one-line
// InputError naming the file; plus the limits too large to commit as files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "util/error.h"
#include "test_support.h"

namespace pocketllm {
namespace {

const std::string kCorpus = POCKETLLM_TEST_DATA_DIR "/gguf/malformed";

struct Case {
  std::string file;
  std::string expected;
};

std::vector<Case> load_expected() {
  std::vector<Case> cases;
  std::ifstream in(kCorpus + "/EXPECTED.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    cases.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return cases;
}

std::string open_error(const std::string& path) {
  try {
    (void)GgufFile::open(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return {};
}

TEST(GgufMalformed, EveryCorpusFileIsListed) {
  const std::vector<Case> cases = load_expected();
  std::set<std::string> listed;
  for (const Case& c : cases) listed.insert(c.file);
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    if (entry.path().extension() == ".gguf") present.insert(entry.path().filename().string());
  }
  EXPECT_EQ(listed, present);
  EXPECT_GE(cases.size(), 30u);
}

TEST(GgufMalformed, EachFileGivesItsOneLineError) {
  for (const Case& c : load_expected()) {
    SCOPED_TRACE(c.file);
    const std::string path = kCorpus + "/" + c.file;
    const std::string msg = open_error(path);
    ASSERT_FALSE(msg.empty()) << "no InputError";
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;  // starts with the file name
    EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    // The same bytes in memory give the same error, under the given name.
    const std::vector<uint8_t> bytes = pocketllm::test_support::read_file_u8(path);
    try {
      (void)GgufFile::from_memory(bytes, "mem:" + c.file);
      ADD_FAILURE() << "from_memory accepted it";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "mem:" + c.file + msg.substr(path.size())) << e.what();
    }
  }
}

// Exact messages for a few files: the offset is where the bad field starts.
TEST(GgufMalformed, ErrorsNameTheOffsetAndTheKeyOrTensor) {
  // header 24 bytes, key "x.flag" (8 + 6), type (4): the bool is at 42.
  EXPECT_EQ(open_error(kCorpus + "/bad_bool.gguf"),
            kCorpus + "/bad_bool.gguf: offset 42: key 'x.flag': bool value 2 is neither 0 nor 1");
  EXPECT_EQ(open_error(kCorpus + "/version_1.gguf"),
            kCorpus + "/version_1.gguf: offset 4: unsupported GGUF version 1 (supported: 2, 3)");
  EXPECT_EQ(open_error(kCorpus + "/empty.gguf"),
            kCorpus + "/empty.gguf: offset 0: truncated file: magic needs 4 bytes, 0 left");
  const std::string dup = open_error(kCorpus + "/duplicate_tensor.gguf");
  EXPECT_NE(dup.find("tensor 'a': duplicate tensor name"), std::string::npos) << dup;
  const std::string overlap = open_error(kCorpus + "/overlapping_tensors.gguf");
  EXPECT_NE(overlap.find("tensor 'b': data [0, +32) overlaps tensor 'a' at [0, +32)"), std::string::npos)
      << overlap;
  const std::string unknown = open_error(kCorpus + "/unknown_ggml_type_removed.gguf");
  EXPECT_NE(unknown.find("tensor 't': unknown ggml type 4"), std::string::npos) << unknown;
  const std::string dup_key = open_error(kCorpus + "/duplicate_key.gguf");
  EXPECT_NE(dup_key.find("key 'general.architecture': duplicate key"), std::string::npos) << dup_key;
}

// --- Limits that need large inputs, built in memory --------------------------

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + 4);
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + 8);
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
  put_u64(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
std::vector<uint8_t> header(uint64_t n_tensors, uint64_t n_kv) {
  std::vector<uint8_t> out{'G', 'G', 'U', 'F'};
  put_u32(out, 3);
  put_u64(out, n_tensors);
  put_u64(out, n_kv);
  return out;
}
void put_u8_array(std::vector<uint8_t>& out, const std::string& key, uint64_t n) {
  put_str(out, key);
  put_u32(out, 9);  // ARRAY
  put_u32(out, 0);  // of UINT8
  put_u64(out, n);
  out.resize(out.size() + n, 7);
}

TEST(GgufMalformed, ArrayElementsPerFileAreCapped) {
  // 2^24 + 1 one-byte elements fit the file but not the per-file cap, which
  // stops a file from making the reader spend ~90 bytes of memory per byte.
  constexpr uint64_t kLimit = uint64_t{1} << 24;
  std::vector<uint8_t> bad = header(0, 1);
  put_u8_array(bad, "tokenizer.big", kLimit + 1);
  try {
    (void)GgufFile::from_memory(bad, "big.gguf");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "big.gguf: offset 53: key 'tokenizer.big': array of 16777217 elements exceeds the limit of 16777216 "
              "array elements per file");
  }
}

std::vector<uint8_t> nested_arrays(int levels) {
  std::vector<uint8_t> file = header(0, 1);
  put_str(file, "deep");
  put_u32(file, 9);  // ARRAY
  for (int i = 1; i < levels; ++i) {
    put_u32(file, 9);  // of ARRAY
    put_u64(file, 1);
  }
  put_u32(file, 1);  // innermost: INT8 x 1
  put_u64(file, 1);
  file.push_back(0xff);
  return file;
}

TEST(GgufMalformed, ArraysNestUpToEightLevels) {
  const std::vector<uint8_t> ok = nested_arrays(8);
  const GgufFile f = GgufFile::from_memory(ok, "deep8.gguf");
  const GgufValue* v = f.find("deep");
  for (int i = 1; i < 8; ++i) v = &v->array().at(0);
  EXPECT_EQ(v->array_type(), GgufValueType::INT8);
  EXPECT_EQ(v->array().at(0).as_int(), -1);
  const std::vector<uint8_t> bad = nested_arrays(9);
  try {
    (void)GgufFile::from_memory(bad, "deep9.gguf");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    // The ninth array starts after the header, key, value type and the eight
    // outer arrays' (element type + count) fields.
    EXPECT_EQ(std::string(e.what()),
              "deep9.gguf: offset " + std::to_string(24 + 12 + 4 + 8 * 12) +
                  ": key 'deep': arrays nested deeper than 8 levels");
  }
}

TEST(GgufMalformed, EveryTruncationOfAValidFileIsRefused) {
  // A small valid file with metadata of every kind and two tensors: cutting
  // it anywhere must give an InputError, never a crash or a success.
  std::vector<uint8_t> file = header(2, 3);
  put_str(file, "general.architecture");
  put_u32(file, 8);
  put_str(file, "llama");
  put_str(file, "nested");
  put_u32(file, 9);  // ARRAY of ARRAY of INT32
  put_u32(file, 9);
  put_u64(file, 2);
  for (int i = 0; i < 2; ++i) {
    put_u32(file, 5);
    put_u64(file, 1);
    put_u32(file, 42);
  }
  put_str(file, "general.alignment");
  put_u32(file, 4);
  put_u32(file, 16);
  for (const char* name : {"a", "b"}) {
    put_str(file, name);
    put_u32(file, 1);
    put_u64(file, 4);
    put_u32(file, 0);  // F32
    put_u64(file, name[0] == 'a' ? 0 : 16);
  }
  file.resize((file.size() + 15) / 16 * 16 + 32, 0);
  const GgufFile whole = GgufFile::from_memory(file, "whole.gguf");
  ASSERT_EQ(whole.alignment(), 16u);
  ASSERT_EQ(whole.find("nested")->array()[1].array()[0].as_int(), 42);
  for (size_t n = 0; n < file.size(); ++n) {
    const std::span<const uint8_t> prefix(file.data(), n);
    EXPECT_THROW((void)GgufFile::from_memory(prefix, "cut.gguf"), InputError) << "cut at " << n;
  }
}

}  // namespace
}  // namespace pocketllm
