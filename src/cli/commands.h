#pragma once
// Each subcommand registers itself on the app; its callback does the work
// and throws InputError for bad input (main turns that into exit status 2).
#include <CLI/CLI.hpp>

namespace pocketllm::cli {

void add_info_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_gen_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);

}  // namespace pocketllm::cli
