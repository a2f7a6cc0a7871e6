"""Train the sparse SDF model: seeded, resumable, a progress bar, loss curves as PNG.

    fabricate train --config train.toml        (or: python -m fabricate.reconstruct.neural.train)

Reads samples written by data.build_dataset (building them first if the folder is
empty), keeps 5 % aside for validation, saves a checkpoint every ``checkpoint_every``
steps (training resumes from it), and exports the weights as safetensors.
"""
from __future__ import annotations

import json
import math
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from fabricate.reconstruct.neural.model import ModelConfig, SparseSDFNet, sdf_loss

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sparse_sdf_net.safetensors"


@dataclass
class TrainConfig:
    data_dir: str = "build/neural-data"
    out_dir: str = "build/neural-train"
    procedural_shapes: int = 700
    views_per_mesh: int = 12
    steps: int = 1200
    batch_size: int = 4
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    checkpoint_every: int = 100
    validate_every: int = 100
    seed: int = 0
    threads: int = 2
    model: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path=None, **overrides) -> "TrainConfig":
        values = {}
        if path:
            with open(path, "rb") as handle:
                values = tomllib.load(handle)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def load_samples(folder) -> list:
    files = sorted(Path(folder).glob("[0-9]*.npz"))
    samples = []
    for path in files:
        with np.load(path) as data:
            samples.append({k: data[k] for k in ("classical", "image", "target")})
    return samples


def batch_of(samples, indices):
    to = lambda key, dtype: torch.from_numpy(np.stack([samples[i][key] for i in indices]).astype(dtype))
    return to("classical", np.float32), to("image", np.uint8), to("target", np.float32)


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def evaluate_loss(model, samples, indices, batch_size) -> float:
    model.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            classical, image, target = batch_of(samples, indices[start:start + batch_size])
            coarse, fine, sites = model(classical, image)
            losses.append(sdf_loss(coarse, fine, sites, target).item())
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


def plot_curves(history: list, path) -> None:
    """Training and validation loss against step, drawn with Pillow (no plotting library needed)."""
    from PIL import Image, ImageDraw

    width, height, pad = 720, 420, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    train = [(h["step"], h["train"]) for h in history if "train" in h]
    valid = [(h["step"], h["valid"]) for h in history if "valid" in h]
    values = [v for _, v in train + valid]
    if not values:
        return
    top, bottom = max(values) * 1.05, 0.0
    last = max(s for s, _ in train + valid) or 1
    xy = lambda s, v: (pad + (width - 2 * pad) * s / last, height - pad - (height - 2 * pad) * (v - bottom) / (top - bottom))
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    for i in range(5):
        v = bottom + (top - bottom) * i / 4
        y = xy(0, v)[1]
        draw.line([pad - 4, y, pad, y], fill="black")
        draw.text((4, y - 6), f"{v:.2f}", fill="black")
    draw.text((width / 2 - 40, height - pad + 14), f"step (0-{last})", fill="black")
    for points, colour, label, offset in ((train, (40, 90, 200), "train (smoothed)", 0),
                                          (valid, (220, 80, 30), "validation", 16)):
        if len(points) > 1:
            smooth = np.convolve([v for _, v in points], np.ones(5) / 5, mode="valid") if colour[0] == 40 and \
                len(points) > 10 else [v for _, v in points]
            steps = [s for s, _ in points][len(points) - len(smooth):]
            draw.line([xy(s, v) for s, v in zip(steps, smooth)], fill=colour, width=2)
        draw.text((width - pad - 150, pad + 6 + offset), label, fill=colour)
    image.save(path)


def export_weights(model, config: TrainConfig, path=WEIGHTS, extra: dict = None) -> None:
    from safetensors.torch import save_file

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    metadata = {"model_config": json.dumps(asdict(model.config)), "train_config": json.dumps(asdict(config))}
    metadata.update({k: str(v) for k, v in (extra or {}).items()})
    partial = Path(path).with_name(".partial-" + Path(path).name)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(partial), metadata=metadata)
    partial.replace(path)


def train(config: TrainConfig, progress: bool = True, weights_path=WEIGHTS) -> dict:
    from tqdm import tqdm

    from fabricate.reconstruct.neural.data import build_dataset

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not any(Path(config.data_dir).glob("[0-9]*.npz")):
        build_dataset(config.data_dir, config.procedural_shapes, config.views_per_mesh, config.seed)
    samples = load_samples(config.data_dir)
    order = np.random.default_rng(config.seed).permutation(len(samples))
    held = max(1, len(samples) // 20)
    valid_idx, train_idx = order[:held], order[held:]
    model = SparseSDFNet(ModelConfig(**config.model))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    checkpoint = out / "checkpoint.pt"
    step, history = 0, []
    if checkpoint.exists():  # resume where the last run stopped
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, history = state["step"], state["history"]
    baseline = evaluate_loss(SparseSDFNet(ModelConfig(**config.model)), samples, valid_idx, config.batch_size)
    rng = np.random.default_rng([config.seed, step])
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train", unit="step")
    start = time.perf_counter()
    while step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, config)
        classical, image, target = batch_of(samples, rng.choice(train_idx, config.batch_size, replace=False))
        coarse, fine, sites = model(classical, image)
        loss = sdf_loss(coarse, fine, sites, target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        record = {"step": step, "train": float(loss.item())}
        if step % config.validate_every == 0 or step == config.steps:
            record["valid"] = evaluate_loss(model, samples, valid_idx, config.batch_size)
        history.append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{record['train']:.3f}", valid=f"{record.get('valid', float('nan')):.3f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            partial = out / ".partial-checkpoint.pt"
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                        "history": history}, partial)
            partial.replace(checkpoint)
            plot_curves(history, out / "loss.png")
    bar.close()
    final_valid = evaluate_loss(model, samples, valid_idx, config.batch_size)
    summary = {"steps": step, "samples": len(samples), "validation_samples": int(held),
               "validation_loss": final_valid, "validation_loss_classical": baseline,
               "seconds": time.perf_counter() - start}
    export_weights(model, config, weights_path, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curves(history, out / "loss.png")
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train the sparse SDF model")
    parser.add_argument("--config", default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps(train(TrainConfig.load(args.config, steps=args.steps)), indent=2))
