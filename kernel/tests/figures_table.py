#!/usr/bin/python3
"""figures_table.py FIGURES.json: the guest's figures (one JSON object a
line, from kernel/vm/guest/figures.sh) as a Markdown table, the batch form
of each sample beside its per-packet form."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = {(row["sample"], row["form"]): row for row in rows}
samples = []
for row in rows:
    if row["sample"] not in samples:
        samples.append(row["sample"])

print("Patched 6.12.118 kernel under qemu TCG with -icount shift=0: one emulated")
print("ns per guest instruction, so these are instruction counts, not times.")
print()
print("| sample | form | frames | program runs | frames/run "
      "| program, emulated ns/frame | sender's test run incl. receive, emulated ns/frame |")
print("|---|---|---|---|---|---|---|")
for sample in samples:
    for form in ("pp", "batch"):
        row = by.get((sample, form))
        if not row:
            continue
        name = "per-packet" if form == "pp" else "batch"
        print(f"| {sample} | {name} | {row['frames']} | {row['runs']} | {row['frames_per_run']} "
              f"| {row['program_emulated_ns_per_frame']} "
              f"| {row['test_run_emulated_ns_per_frame']} |")
    single, batch = by.get((sample, "pp")), by.get((sample, "batch"))
    if single and batch:
        ratio = batch["test_run_emulated_ns_per_frame"] / single[
            "test_run_emulated_ns_per_frame"]
        print(f"| {sample} | batch / per-packet | | | | "
              f"{batch['program_emulated_ns_per_frame'] / single['program_emulated_ns_per_frame']:.2f} "
              f"| {ratio:.2f} |")
