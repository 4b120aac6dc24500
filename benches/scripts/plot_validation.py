#!/usr/bin/env python3
"""Plots validation throughput per schema from criterion's results.

Reads target/criterion/**/new/{benchmark,estimates}.json written by
`cargo bench -p identity-benches --bench validation`, prints a table of
medians and ratios, and writes benches/validation-throughput.png.

Usage: python3 benches/scripts/plot_validation.py [target-dir]
"""

import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

root = pathlib.Path(__file__).resolve().parents[2]
target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "target"
results = {}
for bench in (target / "criterion").glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    group, func = meta["group_id"], meta["function_id"]
    elements = (meta.get("throughput") or {}).get("Elements", 1)
    median_ns = est["median"]["point_estimate"]
    results.setdefault(group, {})[func] = (median_ns, elements)

schemas = sorted(g.split("/", 1)[1] for g in results if g.startswith("validate/"))
labels = {
    "c_baseline_is_valid": "(c) bare jsonschema is_valid",
    "a_ours_validate_derive": "(a) ours: validate + derive",
    "d_parse_only": "(d) serde_json parse only",
    "b_ours_from_bytes": "(b) ours from bytes",
    "e_baseline_from_bytes": "(e) bare parse + is_valid",
    "f_own_validator_is_valid": "(f) our compiled validator, is_valid only",
}
print("| schema | (a) docs/s | (c) docs/s | (a)/(c) cost | (b) docs/s | (d) docs/s | (b)/(d) cost | (e)/(d) cost | (f)/(c) cost |")
print("|---|---|---|---|---|---|---|---|---|")
for s in schemas:
    r = results[f"validate/{s}"]
    rate = {k: v[1] / (v[0] / 1e9) for k, v in r.items()}
    cost = {k: v[0] for k, v in r.items()}
    print(
        f"| {s} | {rate['a_ours_validate_derive']:,.0f} | {rate['c_baseline_is_valid']:,.0f} | "
        f"{cost['a_ours_validate_derive'] / cost['c_baseline_is_valid']:.2f}x | "
        f"{rate['b_ours_from_bytes']:,.0f} | {rate['d_parse_only']:,.0f} | "
        f"{cost['b_ours_from_bytes'] / cost['d_parse_only']:.2f}x | "
        f"{cost['e_baseline_from_bytes'] / cost['d_parse_only']:.2f}x | "
        f"{cost['f_own_validator_is_valid'] / cost['c_baseline_is_valid']:.2f}x |"
    )
for group in sorted(g for g in results if g.startswith("invalid/")):
    r = results[group]
    print(f"{group}: ours/bare iter_errors cost = {r['ours_all_violations'][0] / r['baseline_iter_errors'][0]:.2f}x")
if "ops/memory" in results:
    r = results["ops/memory"]
    for k, (ns, _) in sorted(r.items()):
        print(f"ops/memory/{k}: {1e9 / ns:,.0f} ops/s (median {ns / 1000:.1f} us)")
    print(f"PUT / validate(same traits) = {r['put'][0] / r['validate_same_traits'][0]:.2f}x")

fig, ax = plt.subplots(figsize=(10, 5))
width = 0.16
order = ["a_ours_validate_derive", "c_baseline_is_valid", "b_ours_from_bytes", "e_baseline_from_bytes", "d_parse_only"]
for i, key in enumerate(order):
    ys = []
    for s in schemas:
        ns, n = results[f"validate/{s}"][key]
        ys.append(n / (ns / 1e9) / 1000)
    ax.bar([x + (i - 2) * width for x in range(len(schemas))], ys, width, label=labels[key])
ax.set_xticks(range(len(schemas)))
ax.set_xticklabels(schemas)
ax.set_ylabel("thousand documents per second (median)")
ax.set_title("Validation throughput per shared schema (10,000-document corpora, 90% valid)")
ax.legend(fontsize=8)
fig.tight_layout()
out = root / "benches" / "validation-throughput.png"
fig.savefig(out, dpi=110)
print(f"wrote {out}")
