#!/usr/bin/python3
"""PyTorch side of the side-by-side training benchmark (compare with `vkquill bench`).

    /usr/bin/python3 tools/bench_torch.py [--model ../shared/models/stories260K.bin]
                                          [--batch 8] [--seq 256] [--steps 10] [--json]

One step = forward over a batch of random token sequences, full-vocabulary cross-entropy
at every position, backward, clipping to global norm 1, torch.optim.AdamW step; float32,
all CPU cores. The model has
the shape (and weights) of the given llama2.c checkpoint. Prints the median step time over
--steps steps after --warmup steps, and with --json one JSON line for scripts.

PyTorch's CPU products run on OpenBLAS, whose kernel choice depends on the CPU (see
tools/openblas_best.py): by default (--coretype auto) the fastest correct kernel set is found
first and the benchmark re-runs itself under it, printing which one it used.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openblas_best  # noqa: E402


def run_under_best_coretype():
    """Re-executes this script with OPENBLAS_CORETYPE set to the fastest correct kernel set."""
    coretype, results = openblas_best.best_coretype()
    for r in results:
        print("openblas candidate " + openblas_best.describe(r))
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    args = [a for a in sys.argv[1:] if not a.startswith("--coretype")]
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, sys.argv[0], *args,
                               "--coretype=" + (coretype or "detected")], env)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join(root, "..", "shared", "models",
                                                        "stories260K.bin"))
    parser.add_argument("--batch", type=int, default=8, help="sequences per step")
    parser.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--coretype", default="auto",
                        help="auto (fastest correct OpenBLAS kernel set), detected, or a name; "
                             "a name must also be in OPENBLAS_CORETYPE")
    args = parser.parse_args()
    if args.coretype == "auto":
        run_under_best_coretype()

    import torch
    import llama_reference as ref

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    model = ref.Llama.from_checkpoint(args.model, torch.float32)
    cfg = model.cfg
    if args.seq > cfg.seq_len:
        parser.error(f"--seq {args.seq} is longer than the model's seq_len {cfg.seq_len}")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.1)
    # Random sequences of seq + 1 tokens: inputs are the first seq, targets the last seq.
    data = torch.randint(0, cfg.vocab_size, (args.batch, args.seq + 1))
    inputs, targets = data[:, :-1], data[:, 1:]

    def step():
        opt.zero_grad(set_to_none=True)
        # A rectangular batch with a plain causal mask (forward_batched), not the packed
        # variable-length batch vkquill trains on: equal-length sequences are PyTorch's
        # straightforward fast path, and they do the same arithmetic as packing them would.
        logits = model.forward_batched(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size),
                                                 targets.reshape(-1))
        loss.backward()
        # vkquill's step clips by the global gradient norm too.
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # .item() also waits for the step to finish

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)

    step_s = statistics.median(times)
    tokens = args.batch * args.seq
    result = {
        "bench": "train_step_torch",
        "tokens_per_s": round(tokens / step_s, 1),
        "step_ms": round(1e3 * step_s, 3),
        "batch": args.batch,
        "seq": args.seq,
        "threads": threads,
        "torch_version": torch.__version__,
        "openblas_coretype": args.coretype,
    }
    print(f"torch {torch.__version__}, {threads} threads, OpenBLAS core {args.coretype}, model {os.path.basename(args.model)} "
          f"(dim {cfg.dim}, layers {cfg.n_layers}, vocab {cfg.vocab_size}, "
          f"{cfg.n_params()} parameters), batch {args.batch} x {args.seq} tokens")
    print(f"train step: {result['step_ms']:.1f} ms median of {args.steps}, "
          f"{result['tokens_per_s']:.0f} tokens/s")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
