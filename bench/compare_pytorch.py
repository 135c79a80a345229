#!/usr/bin/python3
"""Side-by-side training throughput and peak memory: vktrain vs PyTorch.

Both sides train the same nn.Sequential networks (the CLI's mlp and cnn
presets) on Fashion-MNIST read from the same IDX files, with SGD (lr 0.05,
momentum 0.9), batch 64, batches in file order. Every measurement runs in
a fresh process so peak RSS is that run's alone, and the two engines
alternate (torch, vktrain, torch, vktrain, ...) so drift in machine load
hits both. The median over --repeats is reported.

Run with Debian's python3-torch interpreter:

    /usr/bin/python3 bench/compare_pytorch.py --vktrain build/tools/vktrain
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

MODELS = ("mlp", "cnn")
THREADS = (1, 2)
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
# Targets for vktrain relative to torch (see bench/README.md).
SPEED_TARGET = {"cnn": 2.0, "mlp": 1.3}
RSS_TARGET = 0.25
RUN_TIMEOUT_S = 1800


# ---------------------------------------------------------------- torch side
# Runs in a child process (python3 compare_pytorch.py --torch-worker ...)
# so that importing torch and its allocations count against that run only.


def read_idx(path):
    """Return (dims, payload bytes) of a raw or gzip IDX file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return dims, data[4 + 4 * rank:]


def data_file(data_dir, base):
    for name in (base + ".gz", base):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"Fashion-MNIST not found in {data_dir} (install the "
                     "dataset-fashion-mnist package or pass --data DIR)")


def torch_model(name, nn):
    """The CLI presets, with the same nn.Sequential indices as their names
    in vktrain (the mlp's flatten happens before the Sequential)."""
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                             nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10))


def torch_worker(args):
    import resource
    import time

    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    dims, pixels = read_idx(data_file(args.data, "train-images-idx3-ubyte"))
    _, label_bytes = read_idx(data_file(args.data, "train-labels-idx1-ubyte"))
    count = dims[0]
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(count, 1, dims[1], dims[2])
    labels = torch.frombuffer(bytearray(label_bytes), dtype=torch.uint8).long()

    model = torch_model(args.model, nn)
    flatten = args.model == "mlp"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    full_batches = count // args.batch

    def step(i):
        start = (i % full_batches) * args.batch
        x = images[start:start + args.batch].float().div_(255.0)
        if flatten:
            x = x.flatten(1)
        y = labels[start:start + args.batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for i in range(args.warmup):
        step(i)
    started = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss = step(i)
    final_loss = float(loss)
    seconds = time.perf_counter() - started

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({
        "samples_per_s": args.steps * args.batch / seconds,
        "peak_rss_bytes": peak,
        "seconds": seconds,
        "final_loss": final_loss,
        "torch": torch.__version__,
    }))


# ---------------------------------------------------------------- parent side


def run_torch(opts, model, threads):
    cmd = [opts.torch_python, os.path.abspath(__file__), "--torch-worker",
           "--model", model, "--threads", str(threads), "--steps", str(opts.steps),
           "--warmup", str(opts.warmup), "--batch", str(opts.batch), "--data", opts.data]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if done.returncode != 0:
        hint = ""
        if "No module named 'torch'" in done.stderr:
            hint = f"\n{opts.torch_python} has no torch: run with /usr/bin/python3 or pass --torch-python"
        raise RuntimeError(f"torch run failed ({model}, {threads} threads):\n{done.stderr}{hint}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_vktrain(opts, model, threads):
    with tempfile.TemporaryDirectory(prefix="vktrain-bench-") as tmp:
        log = os.path.join(tmp, "log.jsonl")
        # vktrain has no separate warm-up: its figure covers every step it
        # runs, the first ones included.
        cmd = [opts.vktrain, "train", "--model", model, "--threads", str(threads),
               "--steps", str(opts.steps), "--batch", str(opts.batch), "--no-shuffle",
               "--quiet", "--log", log, "--data", opts.data, "--device", opts.device]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"vktrain run failed ({' '.join(cmd)}):\n{done.stderr}")
        with open(log) as f:
            records = [json.loads(line) for line in f if line.strip()]
    summaries = [r for r in records if r.get("summary")]
    if not summaries:
        raise RuntimeError(f"{log}: vktrain wrote no summary record")
    return summaries[-1]


def median(values):
    return statistics.median(values) if values else None


def measure(opts):
    rows = []
    for model in opts.models:
        for threads in opts.threads:
            torch_runs, vk_runs = [], []
            for repeat in range(opts.repeats):
                if "torch" in opts.engines:
                    torch_runs.append(run_torch(opts, model, threads))
                    report_run("torch", model, threads, repeat, torch_runs[-1])
                if "vktrain" in opts.engines:
                    vk_runs.append(run_vktrain(opts, model, threads))
                    report_run("vktrain", model, threads, repeat, vk_runs[-1])
            rows.append({
                "model": model,
                "threads": threads,
                "torch_sps": median([r["samples_per_s"] for r in torch_runs]),
                "vk_sps": median([r["samples_per_s"] for r in vk_runs]),
                "torch_rss": median([r["peak_rss_bytes"] for r in torch_runs]),
                "vk_rss": median([r["peak_rss_bytes"] for r in vk_runs]),
            })
    return rows


def report_run(engine, model, threads, repeat, result):
    print(f"  {engine:8s} {model} threads={threads} run {repeat + 1}: "
          f"{result['samples_per_s']:.0f} samples/s, "
          f"peak {result['peak_rss_bytes'] / 1e6:.1f} MB", file=sys.stderr, flush=True)


def fmt(value, spec, suffix=""):
    return "-" if value is None else format(value, spec) + suffix


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def markdown_table(rows):
    lines = [
        "| model | threads | torch samples/s | vktrain samples/s | ratio "
        "| torch peak RSS MB | vktrain peak RSS MB | RSS ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mb = lambda b: None if b is None else b / 1e6  # noqa: E731
        lines.append(
            f"| {r['model']} | {r['threads']} | {fmt(r['torch_sps'], '.0f')} "
            f"| {fmt(r['vk_sps'], '.0f')} | {fmt(ratio(r['vk_sps'], r['torch_sps']), '.2f', 'x')} "
            f"| {fmt(mb(r['torch_rss']), '.1f')} | {fmt(mb(r['vk_rss']), '.1f')} "
            f"| {fmt(ratio(r['vk_rss'], r['torch_rss']), '.2f')} |")
    return "\n".join(lines)


def target_verdicts(rows):
    out = []
    for r in rows:
        speed = ratio(r["vk_sps"], r["torch_sps"])
        rss = ratio(r["vk_rss"], r["torch_rss"])
        if speed is None or rss is None:
            continue
        need = SPEED_TARGET[r["model"]]
        out.append(f"- {r['model']} @ {r['threads']} thread(s): speed {speed:.2f}x "
                   f"(target >= {need}x: {'met' if speed >= need else 'MISSED'}), "
                   f"RSS {rss:.3f} (target <= {RSS_TARGET}: "
                   f"{'met' if rss <= RSS_TARGET else 'MISSED'})")
    return out


def setup_description(opts):
    return (f"{opts.steps} timed steps of batch {opts.batch} (torch after {opts.warmup} "
            f"warm-up steps), median of {opts.repeats}; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vktrain", default="build/tools/vktrain", help="vktrain executable")
    p.add_argument("--device", default="cpu", help="vktrain --device (default cpu)")
    p.add_argument("--data", default=DEFAULT_DATA, help="Fashion-MNIST directory")
    p.add_argument("--steps", type=int, default=300, help="timed training steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed torch warm-up steps")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", default=",".join(map(str, THREADS)))
    p.add_argument("--engines", default="torch,vktrain",
                   help="which sides to run (e.g. 'torch' alone)")
    p.add_argument("--torch-python", default=sys.executable,
                   help="interpreter with torch for the torch runs")
    p.add_argument("--out", help="also write the markdown table to this file")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)

    if opts.torch_worker:
        opts.threads = int(opts.threads)
        return opts
    opts.models = [m for m in opts.models.split(",") if m]
    opts.threads = [int(t) for t in opts.threads.split(",") if t]
    opts.engines = set(e for e in opts.engines.split(",") if e)
    if not set(opts.models) <= set(MODELS):
        p.error(f"--models takes {', '.join(MODELS)}")
    if not opts.engines or not opts.engines <= {"torch", "vktrain"}:
        p.error("--engines takes torch, vktrain or both")
    if min(opts.steps, opts.batch, opts.repeats, *opts.threads) < 1 or opts.warmup < 0:
        p.error("--steps, --batch, --repeats and --threads must be positive")
    for base in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        data_file(opts.data, base)  # exits with the install hint when missing
    if "vktrain" in opts.engines and not os.access(opts.vktrain, os.X_OK):
        p.error(f"{opts.vktrain} is not an executable (build it, or pass --vktrain PATH)")
    return opts


def main(argv):
    opts = parse_args(argv)
    if opts.torch_worker:
        torch_worker(opts)
        return 0

    try:
        rows = measure(opts)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"compare_pytorch.py: {e}", file=sys.stderr)
        return 1
    table = markdown_table(rows)
    verdicts = target_verdicts(rows)
    print()
    print(setup_description(opts))
    print()
    print(table)
    if verdicts:
        print()
        print("\n".join(verdicts))
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(f"{setup_description(opts)}\n\n{table}\n")
            if verdicts:
                f.write("\n" + "\n".join(verdicts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
