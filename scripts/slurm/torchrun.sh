#!/bin/bash
# Multi-GPU / multi-node without SLURM: torchrun starts one process per GPU and Lightning's DDP
# strategy picks up RANK/WORLD_SIZE/MASTER_ADDR from it. Run the same command on every node.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 scripts/slurm/torchrun.sh configs/pretrain/bert.yaml
# On a single node: scripts/slurm/torchrun.sh configs/pretrain/bert.yaml
# CPU smoke test (gloo): NPROC=2 EXTRA="--trainer.accelerator=cpu --trainer.strategy=ddp --trainer.precision=32-true" ...
set -euo pipefail
PLAN=${1:-configs/pretrain/gpt.yaml}
NPROC=${NPROC:-$(nvidia-smi -L 2>/dev/null | wc -l)}
.venv/bin/torchrun --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$NPROC" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
  -m pretrain.cli fit --config "$PLAN" --config configs/trainer/ddp.yaml \
  --trainer.num_nodes="${NNODES:-1}" --trainer.devices="$NPROC" --ckpt_path last ${EXTRA:-}
