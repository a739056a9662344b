#pragma once
// Loading a Tokenizer from a Hugging Face model folder: tokenizer.json (the
// vocabulary, merges, added tokens, normalizer, pre-tokenizer, post-processor
// and decoder) and tokenizer_config.json (BOS/EOS/PAD names,
// clean_up_tokenization_spaces, additional_special_tokens). The result
// encodes and decodes as tokenizers.js / transformers.js do; see
// hf_pipeline.h for the steps. Tokenizer::from_hf_dir and
// Tokenizer::from_hf_json are declared in tokenizer.h and defined here.
//
// BOS/EOS come from the post_processor only (TemplateProcessing, Bert/Roberta
// processing). Python transformers also lets tokenizer_config.json's
// add_bos_token rewrite the post-processor of some tokenizer classes
// (LlamaTokenizerFast: DeepSeek-V3 adds BOS there, not in tokenizers.js).
#include <filesystem>

namespace pocketllm {

// True when `dir` holds a tokenizer.json.
bool has_hf_tokenizer(const std::filesystem::path& dir);

}  // namespace pocketllm
