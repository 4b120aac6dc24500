#!/usr/bin/env bash
# Instruction counts (callgrind) of the validation and PUT scenarios of
# benches/examples/profile.rs: repeatable on a shared machine, unlike time.
#
#   bash benches/scripts/callgrind.sh            # the table
#   OUT=/tmp/cg bash benches/scripts/callgrind.sh  # keep the profiles there
#
# Then e.g. `callgrind_annotate --inclusive=yes $OUT/validate.default` shows
# where (a) spends its instructions. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
cargo build --quiet --profile bench -p identity-benches --example profile
bin=${CARGO_TARGET_DIR:-target}/release/examples/profile

# Ir of one scenario; the measured loop is the functions named hot_*.
ir() {
    valgrind --tool=callgrind --toggle-collect='*hot_*' \
        --callgrind-out-file="$OUT/$1.$2" "$bin" "$1" "$2" "$3" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

rounds=2    # the whole 10,000-document corpus, twice
docs=20000
echo "| schema | (a) ours | (c) bare | (a)/(c) | (b) ours from bytes | (d) parse | (b)/(d) | (e) bare from bytes | (e)/(d) | invalid: ours | invalid: bare iter_errors | ratio | invalid: floor | floor / bare |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in default employee profile username-phone; do
    a=$(ir validate "$s" $rounds)
    c=$(ir bare "$s" $rounds)
    b=$(ir from-bytes "$s" $rounds)
    d=$(ir parse "$s" $rounds)
    e=$(ir bare-from-bytes "$s" $rounds)
    # The invalid tenth of the corpus, 4 times over.
    i=$(ir invalid "$s" 4)
    j=$(ir iter-errors "$s" 4)
    # The limits walk, the is_valid pass and the bare count, with nothing
    # turned into a violation: what keeping both steps costs at least.
    f=$(ir invalid-floor "$s" 4)
    python3 - "$s" "$a" "$c" "$b" "$d" "$e" "$i" "$j" "$f" "$docs" <<'PY'
import sys
s, a, c, b, d, e, i, j, f, docs = sys.argv[1], *map(int, sys.argv[2:])
per = lambda x: f"{x / docs:,.0f}"
print(f"| {s} | {per(a)} | {per(c)} | {a / c:.2f}x | {per(b)} | {per(d)} | {b / d:.2f}x | {per(e)} | {e / d:.2f}x | {i:,} | {j:,} | {i / j:.2f}x | {f:,} | {f / j:.2f}x |")
PY
done
echo
echo "Instructions per document for (a)-(e); for the invalid documents, total"
echo "instructions over 4 passes of the corpus's invalid documents."
rounds=5    # thousands of operations
put=$(ir put default $rounds)
get=$(ir get default $rounds)
val=$(ir validate-put-traits default $rounds)
python3 - "$put" "$get" "$val" <<'PY'
import sys
put, get, val = map(int, sys.argv[1:])
n = 5000
print(f"PUT {put / n:,.0f} Ir, get {get / n:,.0f} Ir, validate the same traits {val / n:,.0f} Ir: PUT / validate = {put / val:.2f}x")
PY
# Argon2id at the production parameters, three hashes each.
bare=$(ir argon2-bare default 3)
hash=$(ir argon2-hash default 3)
verify=$(ir argon2-verify default 3)
python3 - "$bare" "$hash" "$verify" <<'PY'
import sys
bare, hash_, verify = map(int, sys.argv[1:])
print(f"Argon2id: bare {bare / 3:,.0f} Ir per hash; ours: hash +{(hash_ - bare) / 3:,.0f} Ir "
      f"({(hash_ - bare) / bare:+.4%}), verify +{(verify - bare) / 3:,.0f} Ir ({(verify - bare) / bare:+.4%})")
PY
echo "profiles in $OUT"
