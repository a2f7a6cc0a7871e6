#!/usr/bin/env bash
# Train the learned model on a lent GPU machine, unattended, in one call.
# The data folder is shared with the CPU plan: shards already built are kept, the larger plan
# only adds shards. Resumable: run it again after an interruption. The weights replace the
# shipped ones in this checkout; with OUT set (the device tool's result folder) the weights,
# loss curves and scores are copied there.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch; print('device:', 'cuda' if torch.cuda.is_available() else 'cpu')"
# The compiled loops (git-ignored build outputs) are built here when this checkout lacks them;
# offline, so with the setuptools already installed.
python -c "import fabricate.reconstruct._narrowband, fabricate.mesh._intersect" 2>/dev/null \
    || python -m pip install -q --no-deps --no-build-isolation -e .
fabricate train --config fabricate/reconstruct/neural/train_gpu.toml
fabricate eval --models classical,neural --samples 8 --json build/neural-train-gpu/heldout.json
fabricate eval --models classical,neural --corpus-validation --json build/neural-train-gpu/validation.json
if [ -n "${OUT:-}" ]; then
    cp fabricate/reconstruct/neural/weights/sparse_sdf_net.safetensors build/neural-train-gpu/summary.json \
       build/neural-train-gpu/loss.png build/neural-train-gpu/*.json "$OUT"/
fi
