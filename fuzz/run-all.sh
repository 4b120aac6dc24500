#!/usr/bin/env bash
# Fuzzes every target for SECONDS_PER_TARGET (default 600) each, JOBS at a
# time (default 2), with inputs up to MAX_LEN bytes (default 65536: long
# patch paths, deep values and $ref chains need room), and prints each
# target's closing libFuzzer statistics. A crash input lands in
# artifacts/<target>/; copy it to regressions/<target>/ once fixed.
# SANITIZER=none (default address) fuzzes without AddressSanitizer: the
# code is safe Rust, and the structure-aware targets run about 25x faster
# without it (patch_ops: 176 against 7 executions a second).
# Needs cargo-fuzz; the stable toolchain works with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-600}
jobs=${JOBS:-2}
max_len=${MAX_LEN:-65536}
sanitizer=${SANITIZER:-address}
targets=${TARGETS:-validate register register_refs bodies patch patch_ops password}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O -s "$sanitizer"
mkdir -p logs
printf "%s\n" $targets |
  xargs -P "$jobs" -I{} sh -c \
    "cargo fuzz run -O -s $sanitizer {} corpus/{} -- -max_total_time=$seconds -max_len=$max_len -len_control=0 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 > logs/{}.log 2>&1 || echo '{} FAILED'"
for t in $targets; do
  echo "== $t"
  grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|cov:' "logs/$t.log" | tail -3
done
# Before committing a corpus, leave out inputs slower than ~150 ms (hashes at
# the cost ceilings, e.g. Argon2 m=1 GiB): `cargo test` replays every file.
