// Malformed safetensors files: the committed corpus (one file per problem,
// tests/data/safetensors/malformed/EXPECTED.txt says which error each must
// give), plus mutations of a valid file that must never do worse than an
// InputError.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"
#include "formats/safetensors.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

namespace fs = std::filesystem;

const std::string kCorpus = std::string(POCKETLLM_TEST_DATA_DIR) + "/safetensors/malformed";

struct Expectation {
  std::string file;
  std::string substring;
};

std::vector<Expectation> read_expectations() {
  std::ifstream in(kCorpus + "/EXPECTED.txt");
  std::vector<Expectation> list;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    list.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return list;
}

std::vector<uint8_t> read_bytes(const std::string& path) { return pocketllm::test_support::read_file_u8(path); }

TEST(SafetensorsMalformed, CorpusListsEveryFileOnce) {
  const auto expectations = read_expectations();
  EXPECT_GE(expectations.size(), 15U);
  std::set<std::string> listed;
  for (const auto& e : expectations) EXPECT_TRUE(listed.insert(e.file).second) << e.file;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.path().extension() != ".safetensors") continue;
    EXPECT_TRUE(listed.count(entry.path().filename().string())) << entry.path() << " has no expectation";
  }
}

class MalformedFile : public testing::TestWithParam<Expectation> {};

TEST_P(MalformedFile, OpenGivesOneLineInputErrorNamingFileAndProblem) {
  const Expectation& expected = GetParam();
  const std::string path = kCorpus + "/" + expected.file;
  ASSERT_TRUE(fs::exists(path)) << path;
  try {
    SafetensorsFile::open(path);
    FAIL() << path << " opened without error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0U) << message;  // starts with the path
    EXPECT_NE(message.find(expected.substring), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_LT(message.size(), 400U) << message;
  }
}

TEST_P(MalformedFile, FromMemoryGivesTheSameError) {
  const Expectation& expected = GetParam();
  const std::vector<uint8_t> bytes = read_bytes(kCorpus + "/" + expected.file);
  try {
    SafetensorsFile::from_memory(bytes, "mem");
    FAIL() << expected.file << " parsed without error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("mem: ", 0), 0U) << e.what();
    EXPECT_NE(std::string(e.what()).find(expected.substring), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedFile, testing::ValuesIn(read_expectations()),
                         [](const testing::TestParamInfo<Expectation>& param_info) {
                           std::string name = param_info.param.file.substr(0, param_info.param.file.find('.'));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// A valid file with several dtypes, metadata and an empty tensor.
std::vector<uint8_t> valid_file() {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F4","shape":[4],"data_offsets":[8,10]},"c":{"dtype":"I64","shape":[0],)"
      R"("data_offsets":[10,10]},"d":{"dtype":"F32","shape":[],"data_offsets":[10,14]}}  )";
  std::string data;
  for (char i = 0; i < 14; ++i) data.push_back(i);
  return safetensors_bytes(header, data);
}

TEST(SafetensorsMalformed, ValidBaseFileParses) {
  const std::vector<uint8_t> bytes = valid_file();
  const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "base");
  EXPECT_EQ(file.tensors().size(), 4U);
}

TEST(SafetensorsMalformed, EveryTruncationIsAnInputError) {
  const std::vector<uint8_t> bytes = valid_file();
  for (size_t size = 0; size < bytes.size(); ++size) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_THROW(SafetensorsFile::from_memory(cut, "cut"), InputError) << "size " << size;
  }
}

TEST(SafetensorsMalformed, ByteFlipsParseOrFailCleanly) {
  // Header bytes replaced by characters that matter to JSON and to numbers:
  // the reader must either accept the result or throw InputError.
  const std::vector<uint8_t> bytes = valid_file();
  constexpr char kReplacements[] = "{}[]\",:0-9e. \x00\xff";
  const std::string replacements(kReplacements, sizeof(kReplacements) - 1);
  size_t failures = 0;
  for (size_t at = 0; at < bytes.size(); ++at) {
    for (const char c : replacements) {
      std::vector<uint8_t> mutated = bytes;
      mutated[at] = static_cast<uint8_t>(c);
      try {
        SafetensorsFile::from_memory(mutated, "flip");
      } catch (const InputError&) {
        ++failures;
      }
    }
  }
  EXPECT_GT(failures, 0U);
}

TEST(SafetensorsMalformed, HundredThousandOpenBracketsDoNotOverflowTheStack) {
  std::string objects;
  for (int i = 0; i < 20000; ++i) objects += "{\"a\":";
  for (const std::string& body : {std::string(100000, '['), objects}) {
    std::string header = "{\"x\":" + body;
    const std::vector<uint8_t> bytes = safetensors_bytes(header);
    try {
      SafetensorsFile::from_memory(bytes, "deep");
      FAIL() << "deep nesting accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("nesting deeper than 64 levels"), std::string::npos) << e.what();
    }
  }
}

TEST(SafetensorsMalformed, NestingUpToTheLimitIsAccepted) {
  // 64 levels in all: the header object, __metadata__ would have to hold
  // strings, so nest inside an ignored extra field of a tensor entry.
  std::string extra = std::string(61, '[') + std::string(61, ']');
  std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[)" + extra + "]}}";
  const std::vector<uint8_t> at_limit = safetensors_bytes(header, "\x01");
  EXPECT_NO_THROW(SafetensorsFile::from_memory(at_limit, "deep-ok"));

  header.insert(header.find("[]"), "[");
  header.insert(header.find("]]"), "]");
  const std::vector<uint8_t> over_limit = safetensors_bytes(header, "\x01");
  EXPECT_THROW(SafetensorsFile::from_memory(over_limit, "deep-65"), InputError);
}

}  // namespace
}  // namespace pocketllm
