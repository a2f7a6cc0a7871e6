"""Train the sparse SDF model: seeded, resumable, a progress bar, loss curves as PNG.

    fabricate train --config train.toml        (or: python -m fabricate.reconstruct.neural.train)

Builds whatever shards of the data plan are missing (``shards.build_shards``: procedural
and organic solids, the training meshes, the 1,706-mesh corpus), validates on the corpus
split held back by object, follows a curriculum from procedural to real shapes, saves a
checkpoint every ``checkpoint_every`` steps (training resumes from it), runs on CUDA when
present and the CPU otherwise, and exports the weights as safetensors.
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

from fabricate.atomic import atomic_open, atomic_path
from fabricate.reconstruct.neural.model import NetConfig, ReconstructionNet, layer_loss, sdf_loss

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sparse_sdf_net.safetensors"


@dataclass
class TrainConfig:
    """Two stages, one run: the depth-layer network first, then (with it frozen) the 3D stages."""

    data_dir: str = "build/neural-shards"
    out_dir: str = "build/neural-train"
    data: dict = field(default_factory=dict)   # DataPlan fields (shards.DataPlan holds the defaults)
    data_workers: int = 2
    layer_steps: int = 6000
    layer_batch: int = 8
    refine_steps: int = 400
    refine_batch: int = 4
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    checkpoint_every: int = 100
    validate_every: int = 100
    seed: int = 0
    threads: int = 2
    # Curriculum: the share of real shapes (training meshes, corpus) in a layer-stage batch
    # grows from the first value to the second over the first ``curriculum_end`` of the stage.
    real_share: tuple = (0.2, 0.8)
    curriculum_end: float = 0.5
    model: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.layer_steps + self.refine_steps

    @classmethod
    def load(cls, path=None, **overrides) -> "TrainConfig":
        values = {}
        if path:
            with open(path, "rb") as handle:
                values = tomllib.load(handle)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def with_outlines(samples: list) -> list:
    """Add the silhouette's signed distance per 3D-grid column (an input of the 3D stages)."""
    from fabricate.reconstruct.neural.data import outline_on_grid

    for sample in samples:
        sample["outline"] = outline_on_grid(sample["image"][..., 3])
    return samples


def batch_of(samples, indices, flip=None, device="cpu"):
    """Tensors for the chosen samples; ``flip`` (bool per sample) mirrors the 2D maps left-right."""
    def stack(key, dtype):
        arrays = []
        for n, i in enumerate(indices):
            a = samples[i][key]
            if flip is not None and flip[n]:  # x is the first map axis (after the layer axis)
                a = a[:, ::-1] if key in ("guess", "truth") else a[::-1]
            arrays.append(np.ascontiguousarray(a))
        return torch.from_numpy(np.stack(arrays).astype(dtype)).to(device)
    return {"image": stack("image", np.uint8), "guess": stack("guess", np.float32),
            "truth": stack("truth", np.float32), "hit": stack("hit", bool),
            "outline": stack("outline", np.float32), "target": stack("target", np.float32)}


def real_share(step: int, steps: int, config: "TrainConfig") -> float:
    """The curriculum: the share of real shapes in a batch at this step of a stage."""
    first, last = config.real_share
    return first + (last - first) * min(1.0, step / max(1.0, config.curriculum_end * steps))


def choose_batch(rng, synthetic: np.ndarray, real: np.ndarray, size: int, share: float) -> np.ndarray:
    """``size`` distinct samples, each real with probability ``share`` (while both pools last)."""
    count = int(rng.binomial(size, share)) if len(real) and len(synthetic) else (size if len(real) else 0)
    count = min(count, len(real))
    return np.concatenate([rng.choice(real, count, replace=False),
                           rng.choice(synthetic, size - count, replace=False)])


def learning_rate(step: int, steps: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, steps - config.warmup_steps)
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def stage_loss(model, batch, stage: str):
    if stage == "layers":
        return layer_loss(model.layers(batch["image"], batch["guess"]), batch["truth"], batch["hit"])
    with torch.no_grad():  # the layer network is frozen while the 3D stages train
        layers = model.layers(batch["image"], batch["guess"])
    _, coarse, fine, sites = model.refine_layers(layers, batch["image"], batch["outline"])
    return sdf_loss(coarse, fine, sites, batch["target"])


def evaluate_loss(model, samples, indices, batch_size, stage: str, device="cpu") -> float:
    model.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            batch = batch_of(samples, indices[start:start + batch_size], device=device)
            losses.append(stage_loss(model, batch, stage).item())
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


def plot_curves(history: list, path) -> None:
    """Training and validation loss against step, one panel per stage, drawn with Pillow."""
    from PIL import Image, ImageDraw

    stages = list(dict.fromkeys(h.get("stage", "train") for h in history))
    if not stages:
        return
    panel, height, pad = 480, 420, 50
    image = Image.new("RGB", (panel * len(stages), height), "white")
    draw = ImageDraw.Draw(image)
    for index, stage in enumerate(stages):
        mine = [h for h in history if h.get("stage", "train") == stage]
        train = [(h["step"], h["train"]) for h in mine]
        valid = [(h["step"], h["valid"]) for h in mine if "valid" in h]
        values = [v for _, v in train + valid]
        top, bottom = max(values) * 1.05, 0.0
        first, last = mine[0]["step"], max(mine[-1]["step"], mine[0]["step"] + 1)
        left = index * panel + pad
        xy = lambda s, v: (left + (panel - 2 * pad) * (s - first) / (last - first),
                           height - pad - (height - 2 * pad) * (v - bottom) / (top - bottom))
        draw.rectangle([left, pad, left + panel - 2 * pad, height - pad], outline="black")
        for i in range(5):
            v = bottom + (top - bottom) * i / 4
            y = xy(first, v)[1]
            draw.line([left - 4, y, left, y], fill="black")
            draw.text((left - 44, y - 6), f"{v:.3f}", fill="black")
        draw.text((left + 10, pad - 20), f"stage: {stage}", fill="black")
        draw.text((left + 60, height - pad + 14), f"step ({first}-{last})", fill="black")
        for points, colour, label, offset in ((train, (40, 90, 200), "train (smoothed)", 0),
                                              (valid, (220, 80, 30), "validation", 16)):
            if len(points) > 1:
                values = [v for _, v in points]
                if label.startswith("train") and len(points) > 20:
                    values = np.convolve(values, np.ones(20) / 20, mode="valid")
                steps = [s for s, _ in points][len(points) - len(values):]
                draw.line([xy(s, v) for s, v in zip(steps, values)], fill=colour, width=2)
            draw.text((left + panel - 2 * pad - 130, pad + 6 + offset), label, fill=colour)
    image.save(path)


def export_weights(model, config: TrainConfig, path=WEIGHTS, extra: dict = None) -> None:
    from safetensors.torch import save_file

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    metadata = {"model_config": json.dumps(asdict(model.config)), "train_config": json.dumps(asdict(config))}
    metadata.update({k: str(v) for k, v in (extra or {}).items()})
    with atomic_path(path) as temporary:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, temporary, metadata=metadata)


def load_training_data(config: TrainConfig, progress: bool = False) -> tuple:
    """Build the missing shards of the plan, then load them: (samples, train, real, validation).

    ``train`` and ``validation`` index ``samples``; ``real`` marks the real shapes among them.
    Validation is the corpus split held back by object; a plan without the corpus (tests)
    holds back every twentieth synthetic sample instead.
    """
    from fabricate.reconstruct.neural.shards import DataPlan, build_shards, load_shards

    plan = DataPlan(**config.data)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="data", unit="shard")

    def report(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    build_shards(config.data_dir, plan, config.data_workers, report if bar is not None else None)
    if bar is not None:
        bar.close()
    samples, groups, names = load_shards(config.data_dir)
    with_outlines(samples)
    split = np.array([n.split("-")[1] for n in names])
    real = np.isin(groups, ("meshes", "corpus"))
    validation = np.flatnonzero(split == "validation")
    train = np.flatnonzero(split == "train")
    if not len(validation):
        validation, train = train[::20], np.setdiff1d(train, train[::20])
    return samples, train, real, validation


def train(config: TrainConfig, progress: bool = True, weights_path=WEIGHTS) -> dict:
    from tqdm import tqdm

    from fabricate.devices import choose_device

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    device = torch.device(choose_device(torch.cuda.is_available()))
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples, train_idx, real, valid_idx = load_training_data(config, progress)
    held = len(valid_idx)
    pools = {"real": train_idx[real[train_idx]], "synthetic": train_idx[~real[train_idx]]}
    net_config = NetConfig.from_dict(config.model)
    model = ReconstructionNet(net_config).to(device)
    optimisers = {stage: torch.optim.AdamW(getattr(model, stage).parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay) for stage in ("layers", "refine")}
    checkpoint = out / "checkpoint.pt"
    step, history = 0, []
    if checkpoint.exists():  # resume where the last run stopped
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        for stage, optimiser in optimisers.items():
            optimiser.load_state_dict(state["optimisers"][stage])
        step, history = state["step"], state["history"]
    untrained = ReconstructionNet(net_config).to(device)  # zero corrections: exactly the classical guess
    baseline = {stage: evaluate_loss(untrained, samples, valid_idx, config.refine_batch, stage, device)
                for stage in ("layers", "refine")}
    rng = np.random.default_rng([config.seed, step])
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train", unit="step")
    start = time.perf_counter()
    while step < config.steps:
        stage = "layers" if step < config.layer_steps else "refine"
        stage_step = step if stage == "layers" else step - config.layer_steps
        stage_steps = config.layer_steps if stage == "layers" else config.refine_steps
        optimiser = optimisers[stage]
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(stage_step, stage_steps, config)
        size = config.layer_batch if stage == "layers" else config.refine_batch
        share = real_share(stage_step, stage_steps, config)
        chosen = choose_batch(rng, pools["synthetic"], pools["real"], size, share)
        flip = rng.random(size) < 0.5 if stage == "layers" else None
        loss = stage_loss(model, batch_of(samples, chosen, flip, device), stage)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(getattr(model, stage).parameters(), 1.0)
        optimiser.step()
        step += 1
        record = {"step": step, "stage": stage, "train": float(loss.item())}
        if step % config.validate_every == 0 or step in (config.layer_steps, config.steps):
            record["valid"] = evaluate_loss(model, samples, valid_idx, config.refine_batch, stage, device)
        history.append(record)
        bar.update(1)
        bar.set_postfix(stage=stage, loss=f"{record['train']:.3f}", valid=f"{record.get('valid', float('nan')):.3f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            with atomic_open(checkpoint) as stream:
                torch.save({"model": model.state_dict(), "step": step, "history": history,
                            "optimisers": {k: o.state_dict() for k, o in optimisers.items()}}, stream)
            plot_curves(history, out / "loss.png")
    bar.close()
    summary = {"steps": step, "samples": len(samples), "validation_samples": int(held),
               "seconds": time.perf_counter() - start}
    for stage in ("layers", "refine"):
        summary[f"validation_{stage}_loss"] = evaluate_loss(model, samples, valid_idx, config.refine_batch, stage,
                                                            device)
        summary[f"validation_{stage}_loss_classical"] = baseline[stage]
    export_weights(model, config, weights_path, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curves(history, out / "loss.png")
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train the sparse SDF model")
    parser.add_argument("--config", default=None)
    parser.add_argument("--layer-steps", type=int, default=None)
    parser.add_argument("--refine-steps", type=int, default=None)
    args = parser.parse_args()
    config = TrainConfig.load(args.config, layer_steps=args.layer_steps, refine_steps=args.refine_steps)
    print(json.dumps(train(config), indent=2))
