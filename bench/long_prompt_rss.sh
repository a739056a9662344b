#!/usr/bin/env bash
# Peak RSS of a long prompt against the memory plan (issue 6): `pocketllm run
# -f` with a prompt of TOKENS - N tokens (prose from this repository's docs and
# headers, cut to the exact token count) on the 1B-class test model, chunked
# prefill, then N generated tokens. `run` logs its plan (weights + KV for
# n_ctx + one chunk's activation arena) and its own peak RSS (VmHWM); the
# figure is peak / plan. A run of a 5-token prompt in 1-token chunks gives
# peak - plan there = the runtime the plan leaves out (binary, libraries,
# tokenizer tables) minus the weight pages a 5-token prompt never touches
# (most of the token-embedding table, which a long prompt does touch).
#
# usage: bench/long_prompt_rss.sh [BUILD_DIR]
#   BUILD_DIR (default build/release) holds src/pocketllm (built when missing).
# environment: MODEL (default BUILD_DIR/models/tinyllama-1.1b-q4_0-seed1.gguf,
#   made with `pocketllm gen` when missing), TOKENS (32768: n_ctx), N (4),
#   THREADS (2), CHUNK (512: --max-num-batched-tokens), KV (f16).
# A benchmark, not a test: 32K tokens of prefill take minutes on two cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR="${1:-$POCKETLLM_ROOT/build/release}"
TOKENS="${TOKENS:-32768}"
N="${N:-4}"
THREADS="${THREADS:-2}"
CHUNK="${CHUNK:-512}"
KV="${KV:-f16}"

build_when_missing "$BUILD_DIR" src/pocketllm
POCKETLLM="$BUILD_DIR/src/pocketllm"
MODEL="${MODEL:-$BUILD_DIR/models/tinyllama-1.1b-q4_0-seed1.gguf}"
random_model_when_missing "$POCKETLLM" "$MODEL" tinyllama-1.1b q4_0 1

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# Prose, repeated until it is long enough, then cut to exactly TOKENS - N
# tokens (BOS included): `run -c 1` reports the prompt's token count in its error.
want=$((TOKENS - N))
: > "$OUT/corpus.txt"
while (( $(wc -c < "$OUT/corpus.txt") < want * 6 )); do
  cat "$POCKETLLM_ROOT/README.md" "$POCKETLLM_ROOT/docs/ARCHITECTURE.md" "$POCKETLLM_ROOT"/src/*/*.h >> "$OUT/corpus.txt"
done
count_tokens() {
  head -c "$1" "$OUT/corpus.txt" > "$OUT/probe.txt"
  "$POCKETLLM" run -m "$MODEL" -f "$OUT/probe.txt" -c 1 -n 1 2>&1 \
    | sed -n 's/^pocketllm: error: \([0-9]*\) tokens do not fit.*/\1/p'
}
lo=1
hi=$(wc -c < "$OUT/corpus.txt")
while (( hi - lo > 1 )); do
  mid=$(((lo + hi) / 2))
  if (( $(count_tokens "$mid") <= want )); then lo=$mid; else hi=$mid; fi
done
head -c "$lo" "$OUT/corpus.txt" > "$OUT/prompt.txt"
echo "== prompt: $(count_tokens "$lo") tokens ($lo bytes); n_ctx $TOKENS, $N generated, chunks of $CHUNK, $THREADS threads, KV $KV"

run_measured() {  # PROMPT_FILE N_CTX CHUNK LOG
  "$POCKETLLM" run -m "$MODEL" -f "$1" -c "$2" -n "$N" --temp 0 -t "$THREADS" --kv-cache-dtype "$KV" \
    --max-num-batched-tokens "$3" > /dev/null 2> "$4"
  grep -E '^run: (plan|prompt|peak)' "$4"
}
printf 'Once upon a time' > "$OUT/tiny.txt"
echo "== tiny prompt, 1-token chunks (runtime allowance)"
run_measured "$OUT/tiny.txt" 16 1 "$OUT/tiny.log"
echo "== long prompt"
start=$(date +%s)
run_measured "$OUT/prompt.txt" "$TOKENS" "$CHUNK" "$OUT/long.log"
echo "wall time: $(( $(date +%s) - start )) s"

bytes() { sed -n "s/^run: peak RSS [^(]*(\([0-9]*\) bytes); plan [^(]*(\([0-9]*\) bytes)$/\\$2/p" "$1"; }
tiny_peak=$(bytes "$OUT/tiny.log" 1); tiny_plan=$(bytes "$OUT/tiny.log" 2)
long_peak=$(bytes "$OUT/long.log" 1); long_plan=$(bytes "$OUT/long.log" 2)
awk -v tp="$tiny_peak" -v tl="$tiny_plan" -v lp="$long_peak" -v ll="$long_plan" 'BEGIN {
  runtime = tp - tl; predicted = ll + runtime; mib = 1048576
  printf "runtime allowance (tiny run: peak - plan; negative when untouched weights outweigh the runtime): %.1f MiB\n", runtime / mib
  printf "long run: peak RSS %.1f MiB, plan %.1f MiB, plan + runtime %.1f MiB\n", lp / mib, ll / mib, predicted / mib
  printf "peak vs plan + runtime: %+.2f%% of the plan; peak / plan = %.4f\n", 100 * (lp - predicted) / ll, lp / ll
}'
