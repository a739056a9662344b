// GgufFile on real files written by llama.cpp and gguf-py; the expected facts
// come from the files' sources (tests/data/gguf/SOURCES.md, models/).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "util/error.h"
#include "test_support.h"

namespace pocketllm {
namespace {

const std::string kDataDir = POCKETLLM_TEST_DATA_DIR "/gguf";
const std::string kTinyRandom = kDataDir + "/llama-2-tiny-random.gguf";
const std::string kBertVocab = kDataDir + "/ggml-vocab-bert-bge.gguf";
const std::string kStories = POCKETLLM_TEST_DATA_DIR "/../../models/stories260K.gguf";

std::vector<uint8_t> read_all(const std::string& path) { return pocketllm::test_support::read_file_u8(path); }

TEST(GgufReader, TinyRandomLlamaHeaderAndHyperparameters) {
  const GgufFile f = GgufFile::open(kTinyRandom);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.file_size(), 1750560u);
  EXPECT_EQ(f.metadata().size(), 18u);
  EXPECT_EQ(f.tensors().size(), 12u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "LLaMA v2");
  EXPECT_EQ(f.get_uint("llama.block_count"), 1u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 8u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 32u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count"), 2u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(f.get_uint("llama.context_length"), 4096u);
  EXPECT_EQ(f.get_uint("general.file_type"), 1u);  // LLAMA_FTYPE_MOSTLY_F16
  // 1e-5 stored as FLOAT32.
  EXPECT_EQ(f.find("llama.attention.layer_norm_rms_epsilon")->type(), GgufValueType::FLOAT32);
  EXPECT_EQ(f.get_float("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_EQ(f.get_uint("no.such.key"), std::nullopt);
  EXPECT_EQ(f.find("no.such.key"), nullptr);
}

TEST(GgufReader, TinyRandomLlamaVocabulary) {
  const GgufFile f = GgufFile::open(kTinyRandom);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 32000u);  // the Llama 2 SentencePiece vocabulary
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");           // byte tokens follow the specials
  EXPECT_EQ((*tokens)[31999], "\xe7\xbb\x99");  // U+7ED9, the last Llama 2 token
  const auto scores = f.get_float_array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores);
  ASSERT_EQ(scores->size(), 32000u);
  EXPECT_EQ(scores->back(), -31740.0);
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types);
  ASSERT_EQ(types->size(), 32000u);
  EXPECT_EQ((*types)[0], 2);  // UNKNOWN
  EXPECT_EQ((*types)[1], 3);  // CONTROL
  EXPECT_EQ((*types)[3], 6);  // BYTE
  EXPECT_EQ(types->back(), 1);  // NORMAL
  const GgufValue* raw = f.find("tokenizer.ggml.tokens");
  EXPECT_EQ(raw->type(), GgufValueType::ARRAY);
  EXPECT_EQ(raw->array_type(), GgufValueType::STRING);
}

TEST(GgufReader, TinyRandomLlamaTensors) {
  const GgufFile f = GgufFile::open(kTinyRandom);
  // Tensor infos end at byte 724398; data starts at the next multiple of 32.
  EXPECT_EQ(f.data_offset(), 724416u);
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne, (std::vector<uint64_t>{8, 32000}));
  EXPECT_EQ(embd->type, GgmlType::F16);
  EXPECT_EQ(embd->offset, 0u);
  EXPECT_EQ(embd->n_elements, 256000u);
  EXPECT_EQ(embd->n_bytes, 512000u);
  const GgufTensorInfo* norm = f.find_tensor("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->ne, (std::vector<uint64_t>{8}));
  EXPECT_EQ(norm->type, GgmlType::F32);
  EXPECT_EQ(norm->offset, 514048u);
  const GgufTensorInfo* down = f.find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne, (std::vector<uint64_t>{32, 8}));
  EXPECT_EQ(down->type, GgmlType::F16);
  // The last tensor ends exactly at the end of the file.
  const GgufTensorInfo* out = f.find_tensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(f.data_offset() + out->offset + out->n_bytes, f.file_size());
  int f16 = 0, f32 = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    (t.ne.size() == 2 ? f16 : f32) += 1;
    EXPECT_EQ(t.type, t.ne.size() == 2 ? GgmlType::F16 : GgmlType::F32) << t.name;
  }
  EXPECT_EQ(f16, 9);  // embedding, output, 4 attention and 3 feed-forward matrices
  EXPECT_EQ(f32, 3);  // two block norms and the output norm
}

TEST(GgufReader, TensorDataIsZeroCopyAndMatchesTheFileBytes) {
  const std::vector<uint8_t> bytes = read_all(kTinyRandom);
  const GgufFile f = GgufFile::from_memory(bytes, "tiny.gguf");
  EXPECT_EQ(f.name(), "tiny.gguf");
  for (const GgufTensorInfo& t : f.tensors()) {
    const auto data = f.tensor_data(t);
    EXPECT_EQ(data.data(), bytes.data() + f.data_offset() + t.offset) << t.name;
    EXPECT_EQ(data.size(), t.n_bytes) << t.name;
  }
  // The same through mmap: bytes equal to what an ordinary read gives.
  const GgufFile mapped = GgufFile::open(kTinyRandom);
  const GgufTensorInfo* norm = mapped.find_tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  const auto data = mapped.tensor_data(*norm);
  EXPECT_EQ(std::memcmp(data.data(), bytes.data() + 724416 + 514112, 32), 0);
}

TEST(GgufReader, Stories260kFacts) {
  const GgufFile f = GgufFile::open(kStories);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_uint("llama.block_count"), 5u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f.get_uint("llama.context_length"), 2048u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  // "no separator": UINT32 -1, readable as unsigned and as int64.
  EXPECT_EQ(f.get_uint("tokenizer.ggml.seperator_token_id"), 0xffffffffu);
  EXPECT_EQ(f.get_int("tokenizer.ggml.seperator_token_id"), 0xffffffffll);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")->size(), 512u);
  // 2 tensors outside blocks + 9 per block x 5 blocks + output.weight.
  EXPECT_EQ(f.tensors().size(), 48u);
  for (const GgufTensorInfo& t : f.tensors()) EXPECT_EQ(t.type, GgmlType::F32) << t.name;
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  const GgufTensorInfo* out = f.find_tensor("output.weight");
  ASSERT_NE(embd, nullptr);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(embd->ne, (std::vector<uint64_t>{64, 512}));
  EXPECT_EQ(f.find_tensor("blk.4.ffn_down.weight")->ne, (std::vector<uint64_t>{172, 64}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_k.weight")->ne, (std::vector<uint64_t>{64, 32}));  // 4 kv heads x 8
  // The output matrix is a copy of the shared embedding (SOURCES.md).
  const auto a = f.tensor_data(*embd);
  const auto b = f.tensor_data(*out);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0);
}

TEST(GgufReader, VocabularyOnlyFileWithBool) {
  const GgufFile f = GgufFile::open(kBertVocab);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 20u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_string("general.architecture"), "bert");
  EXPECT_EQ(f.get_bool("bert.attention.causal"), false);
  EXPECT_EQ(f.get_float("bert.attention.layer_norm_epsilon"), static_cast<double>(1e-12f));
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 30522u);  // BERT uncased WordPiece vocabulary
  // The special-token ids point at BERT's well-known specials.
  EXPECT_EQ((*tokens)[*f.get_uint("tokenizer.ggml.padding_token_id")], "[PAD]");
  EXPECT_EQ((*tokens)[*f.get_uint("tokenizer.ggml.unknown_token_id")], "[UNK]");
  EXPECT_EQ((*tokens)[*f.get_uint("tokenizer.ggml.cls_token_id")], "[CLS]");
  EXPECT_EQ((*tokens)[*f.get_uint("tokenizer.ggml.seperator_token_id")], "[SEP]");
  EXPECT_EQ((*tokens)[*f.get_uint("tokenizer.ggml.mask_token_id")], "[MASK]");
  // Keys keep file order.
  EXPECT_EQ(f.metadata().front().key, "general.architecture");
  EXPECT_EQ(f.metadata().back().key, "tokenizer.ggml.mask_token_id");
}

TEST(GgufReader, GettersRefuseIncompatibleTypesNamingTheKey) {
  const GgufFile f = GgufFile::open(kTinyRandom);
  try {
    (void)f.get_uint("general.architecture");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("llama-2-tiny-random.gguf"), std::string::npos) << msg;
    EXPECT_NE(msg.find("key 'general.architecture'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("STRING"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)f.get_string("llama.block_count"), InputError);
  EXPECT_THROW((void)f.get_bool("llama.block_count"), InputError);
  EXPECT_THROW((void)f.get_float("tokenizer.ggml.tokens"), InputError);
  EXPECT_THROW((void)f.get_int_array("tokenizer.ggml.tokens"), InputError);    // strings
  EXPECT_THROW((void)f.get_string_array("tokenizer.ggml.scores"), InputError); // floats
  EXPECT_THROW((void)f.get_int_array("tokenizer.ggml.scores"), InputError);    // floats are not ints
  EXPECT_THROW((void)f.get_string_array("general.name"), InputError);          // not an array
  EXPECT_EQ(f.get_float("llama.block_count"), 1.0);  // integers widen to float
}

// The fuzzer's seed corpus: valid_* and stories* seeds parse, malformed_* fail.
TEST(GgufReader, FuzzSeedCorpusIsWhatItsNamesSay) {
  int valid = 0, malformed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(POCKETLLM_TEST_DATA_DIR "/../fuzz/corpus/gguf")) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    if (name.rfind("malformed_", 0) == 0) {
      EXPECT_THROW((void)GgufFile::open(entry.path().string()), InputError);
      ++malformed;
    } else {
      const GgufFile f = GgufFile::open(entry.path().string());
      EXPECT_FALSE(f.metadata().empty());
      ++valid;
    }
  }
  EXPECT_GE(valid, 5);
  EXPECT_GE(malformed, 10);
}

TEST(GgufReader, VersionTwoFilesAreRead) {
  const GgufFile f = GgufFile::open(POCKETLLM_TEST_DATA_DIR "/../fuzz/corpus/gguf/valid_v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get_string("general.name"), "aligned");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[1].type, GgmlType::I64);
  EXPECT_EQ(f.tensors()[1].offset, 64u);
}

TEST(GgufReader, MissingFileIsAnInputError) {
  EXPECT_THROW(GgufFile::open(kDataDir + "/does-not-exist.gguf"), InputError);
  EXPECT_THROW(GgufFile::open(kDataDir), InputError);  // a directory
}

}  // namespace
}  // namespace pocketllm
