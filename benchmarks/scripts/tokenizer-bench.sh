#!/usr/bin/env bash
# Encode throughput of brt4j's tokenizer beside SentencePiece's spm_encode, on the same 20 MB inputs in the same run:
# a unigram 8k model on prose and a BPE 8k model on Java code, both trained here by spm_train. Inputs are assembled
# from files on this machine (no downloads): prose from /usr/share/common-licenses and /usr/share/doc, code from the
# JDK's src.zip. Each measurement is repeated (REPEATS, default 3) and the median is reported; our ids are checked
# byte for byte against spm_encode's first. Writes benchmarks/results/tokenizer.md.
#   usage: benchmarks/scripts/tokenizer-bench.sh [WORK_DIR]   (needs: apt-get install sentencepiece)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/brt4j-tokenizer-bench}"
repeats="${REPEATS:-3}"
source "$root/bin/find-jdk.sh"
command -v spm_encode >/dev/null || { echo "spm_encode not found: apt-get install sentencepiece" >&2; exit 1; }
mkdir -p "$work"
size=20000000

if [ ! -s "$work/prose.txt" ]; then
  (cat /usr/share/common-licenses/*; find /usr/share/doc -type f -name '*.gz' | sort | xargs zcat 2>/dev/null || true
   find /usr/share/doc -type f ! -name '*.gz' | sort | xargs cat 2>/dev/null || true) \
    | iconv -f utf-8 -t utf-8 -c | head -c $size > "$work/prose.txt" || true
fi
if [ ! -s "$work/code.txt" ]; then
  unzip -p "$JAVA_HOME/lib/src.zip" 'java.base/*' | head -c $size > "$work/code.txt" || true
fi
[ ! -s "$work/uni8k.model" ] && spm_train --input="$work/prose.txt" --model_prefix="$work/uni8k" --vocab_size=8000 \
  --num_threads=2 --input_sentence_size=300000 --shuffle_input_sentence=true --minloglevel=2 >/dev/null 2>&1
[ ! -s "$work/bpe8k.model" ] && spm_train --input="$work/code.txt" --model_prefix="$work/bpe8k" --model_type=bpe \
  --vocab_size=8000 --num_threads=2 --input_sentence_size=300000 --minloglevel=2 >/dev/null 2>&1

# Build only what the harness needs: the tokenizer module and this one class (the benchmarks module also depends
# on engine-core, which does not matter here).
(cd "$root" && mvn -B -q -ntp -pl tokenizer package -DskipTests >&2)
classes="$work/classes"; mkdir -p "$classes"
ec=$(find ~/.m2/repository/org/eclipse/collections -name 'eclipse-collections*-13.0.0.jar' | tr '\n' ':')
cp="$root/tokenizer/target/classes:$ec"
"$JAVA_HOME/bin/javac" -d "$classes" -cp "$cp" "$root/benchmarks/src/main/java/brt4j/bench/tokenizer/TokenizerBench.java"
java=("$JAVA_HOME/bin/java" -XX:+UseParallelGC -Xmx4g -cp "$classes:$cp" brt4j.bench.tokenizer.TokenizerBench)
cores=$(nproc)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rows=()
for pair in "uni8k:prose:unigram 8k, prose" "bpe8k:code:BPE 8k, Java code"; do
  model="${pair%%:*}"; rest="${pair#*:}"; input="${rest%%:*}"; label="${rest#*:}"
  m="$work/$model.model"; in="$work/$input.txt"
  mb=$(awk -v b="$(stat -c %s "$in")" 'BEGIN {printf "%.2f", b/1e6}')
  spm_encode --model="$m" --output_format=id < "$in" > "$work/$model.spm.ids"
  spm_times=()
  for r in $(seq "$repeats"); do
    s=$(date +%s.%N); spm_encode --model="$m" --output_format=id < "$in" > /dev/null; e=$(date +%s.%N)
    spm_times+=("$(awk -v s="$s" -v e="$e" 'BEGIN {print e-s}')")
  done
  spm_s=$(printf '%s\n' "${spm_times[@]}" | median)
  one=$("${java[@]}" "$m" "$in" "$repeats" 1 "$work/$model.ours.ids" | tail -1 | awk '{print $2}')
  cmp -s "$work/$model.spm.ids" "$work/$model.ours.ids" && same=yes || same=NO
  all=$("${java[@]}" "$m" "$in" "$repeats" "$cores" | tail -1 | awk '{print $2}')
  spm_mbs=$(awk -v mb="$mb" -v s="$spm_s" 'BEGIN {printf "%.2f", mb/s}')
  one_mbs=$(awk -v mb="$mb" -v s="$one" 'BEGIN {printf "%.2f", mb/s}')
  all_mbs=$(awk -v mb="$mb" -v s="$all" 'BEGIN {printf "%.2f", mb/s}')
  ratio=$(awk -v a="$one_mbs" -v b="$spm_mbs" 'BEGIN {printf "%.2f", a/b}')
  echo "$label: spm_encode $spm_mbs MB/s, brt4j 1 thread $one_mbs MB/s (${ratio}x), $cores threads $all_mbs MB/s, same ids: $same"
  rows+=("| $label | $mb | $spm_mbs | $one_mbs | **${ratio}x** | $all_mbs | $same |")
done

{
  echo "# Tokenizer encode throughput: brt4j beside spm_encode"
  echo
  echo "Produced by \`benchmarks/scripts/tokenizer-bench.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$(spm_encode --version 2>&1 | head -1 || echo sentencepiece), JDK $("$JAVA_HOME/bin/java" -version 2>&1 | head -1 | cut -d'"' -f2). Median of $repeats runs each."
  echo "Both read the whole file and write one line of ids per line (spm_encode to /dev/null, ours to a discarding stream,"
  echo "after reading the file into memory; JIT warm-up is inside our first run). Models trained by spm_train on the inputs."
  echo
  echo "| model, input | MB | spm_encode MB/s (1 thread) | brt4j MB/s, 1 thread | ratio | brt4j MB/s, $cores threads | ids identical |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share these cores; figures are noisy)."
} > "$root/benchmarks/results/tokenizer.md"
cat "$root/benchmarks/results/tokenizer.md"
