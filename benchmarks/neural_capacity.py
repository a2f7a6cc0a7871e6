"""Does more capacity help the depth-layer network? Short equal-step runs, judged on validation.

Trains the layer stage of each candidate width list for the same number of steps, on the
same shards and batches (seeded), and prints the corpus validation split's layer loss (and
the untrained model's: the classical layers), the parameter count and the time per step.
The shipped configuration takes the best candidate whose gain pays for its time.

    python benchmarks/neural_capacity.py [--steps 800] [--config fabricate/reconstruct/neural/train.toml]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

CANDIDATES = {
    "32/64/96 (first round)": (32, 64, 96),
    "48/96/160 (wider)": (48, 96, 160),
    "32/64/128/192 (deeper: sees the whole silhouette)": (32, 64, 128, 192),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--config", default="fabricate/reconstruct/neural/train.toml")
    args = parser.parse_args()

    import torch

    from fabricate.reconstruct.neural.model import LayerConfig, NetConfig, ReconstructionNet
    from fabricate.reconstruct.neural.train import (TrainConfig, batch_of, choose_batch, evaluate_loss,
                                                    learning_rate, load_training_data, real_share, stage_loss)

    config = TrainConfig.load(args.config)
    config = replace(config, layer_steps=args.steps, warmup_steps=min(config.warmup_steps, args.steps // 10))
    torch.set_num_threads(config.threads)
    samples, train_idx, real, valid_idx = load_training_data(config)
    pools = {"real": train_idx[real[train_idx]], "synthetic": train_idx[~real[train_idx]]}
    classical = evaluate_loss(ReconstructionNet(), samples, valid_idx, 8, "layers")
    print(f"{len(train_idx)} training samples ({len(pools['real'])} real), {len(valid_idx)} validation; "
          f"{args.steps} layer steps of batch {config.layer_batch} each\n")
    print("| layer network widths | parameters | s per step | validation layer loss (classical "
          f"{classical:.3f}) |")
    print("|---|---|---|---|")
    for label, widths in CANDIDATES.items():
        torch.manual_seed(config.seed)
        model = ReconstructionNet(NetConfig(layers=LayerConfig(widths)))
        optimiser = torch.optim.AdamW(model.layers.parameters(), lr=config.learning_rate,
                                      weight_decay=config.weight_decay)
        rng = np.random.default_rng(config.seed)
        start = time.perf_counter()
        for step in range(args.steps):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, args.steps, config)
            chosen = choose_batch(rng, pools["synthetic"], pools["real"], config.layer_batch,
                                  real_share(step, args.steps, config))
            loss = stage_loss(model, batch_of(samples, chosen, rng.random(len(chosen)) < 0.5), "layers")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.layers.parameters(), 1.0)
            optimiser.step()
        seconds = (time.perf_counter() - start) / args.steps
        valid = evaluate_loss(model, samples, valid_idx, 8, "layers")
        parameters = sum(p.numel() for p in model.layers.parameters())
        print(f"| {label} | {parameters / 1e3:.0f} k | {seconds:.3f} | {valid:.3f} |", flush=True)


if __name__ == "__main__":
    main()
