#!/usr/bin/env python3
"""Turn vkbench --json output into the markdown tables of docs/benchmarks.md.

usage: bench/vkbench_markdown.py FILE.json [FILE.json ...]

One table per device: step time (median, min, max of ordinary steps),
forward / backward / optimizer medians (profiled steps), samples/s, the
values the policy trains, planned memory (activations and total) and the
peak RSS of the run. With --ops, also the per-node table of every result
that has one (vkbench --per-op).
"""
import json
import sys

MIB = 1024.0 * 1024.0


def ms(stat):
    return f"{stat['median']:.2f}" if stat else "n/a"


def step_cell(r):
    s = r["step_ms"]
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def device_title(d):
    if not d.get("available"):
        return f"{d['id']}: not available ({d.get('reason', '')})"
    if d["backend"] == "cpu":
        return f"{d['id']}: CPU backend, {d['threads']} thread(s), GEMM {d['cpu_isa']}, host {d['host_cpu']}"
    v = d["vulkan"]
    return (f"{d['id']}: {v['device']} ({v['type']}), {v['driver']}, Vulkan {v['api']}, "
            f"subgroup {v['subgroup_size']}, fp16 storage {'in use' if v['fp16_storage_in_use'] else 'off'}")


def results_table(results):
    head = ("| model | policy | step ms median (min-max) | fwd ms | bwd ms | opt ms | samples/s "
            "| trained values | activations MiB | planned total MiB | peak RSS MiB |")
    lines = [head, "|" + "---|" * 2 + "---:|" * 9]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['policy']} | skipped: {r['reason']} |" + " |" * 8)
            continue
        m = r["memory_bytes"]
        lines.append(
            f"| {r['model']} | {r['policy']} | {step_cell(r)} | {ms(r.get('forward_ms'))} "
            f"| {ms(r.get('backward_ms'))} | {ms(r.get('optimizer_ms'))} | {r['samples_per_s']:.0f} "
            f"| {r['trainable_values']} | {m['activations'] / MIB:.2f} | {m['total'] / MIB:.2f} "
            f"| {r['peak_rss_bytes'] / MIB:.1f} |")
    return "\n".join(lines)


def ops_table(r):
    lines = [f"Per node, {r['model']} {r['policy']} on {r['device']} (median ms of the profiled steps):", "",
             "| node | op | name | fwd ms | bwd ms | opt ms | launches |", "|---:|---|---|---:|---:|---:|---:|"]
    for op in r["ops"]:
        lines.append(f"| {op['node']} | {op['op']} | {op['name'] or '-'} | {op['forward_ms']['median']:.3f} "
                     f"| {op['backward_ms']['median']:.3f} | {op['optimizer_ms']['median']:.3f} "
                     f"| {op['launches']} |")
    return "\n".join(lines)


def main(argv):
    want_ops = "--ops" in argv
    files = [a for a in argv if a != "--ops"]
    if not files:
        sys.exit(__doc__)
    for path in files:
        with open(path) as f:
            data = json.load(f)
        print(f"Command: `{' '.join(data['command'])}`\n")
        for d in data["devices"]:
            print(f"{device_title(d)}\n")
            mine = [r for r in data["results"] if r["device"] == d["id"]]
            if mine:
                print(results_table(mine) + "\n")
            for r in mine:
                if want_ops and r.get("ops"):
                    print(ops_table(r) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
