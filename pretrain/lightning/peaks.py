"""Peak FLOP/s of an accelerator, the denominator of every MFU the suite reports (training logs, the benchmark,
`make gpu-check`, `--estimate`): dense figures, since MFU counts the dense matmuls a model runs (PaLM, appendix B).

Lightning's table (lightning.fabric.utilities.throughput._CUDA_FLOPS) is read for every chip except the H200, whose
bf16/fp16 entries are NVIDIA's "with sparsity" figures (H200 datasheet: 1,979 TFLOPS SXM, 1,671 TFLOPS NVL, both
footnoted "with sparsity"); dense is half: 989.5 and 835.5, the SXM's equal to the H100 SXM's dense 989.4 (the
same tensor cores, more and faster memory). Lightning also recognises an H200 only by names with "sxm1"/"nvl1",
where torch reports "NVIDIA H200", so its MFU there was None.
"""

from __future__ import annotations

import torch
from lightning.fabric.utilities.throughput import _CUDA_FLOPS, get_available_flops

# chip (Lightning's table key) -> dense bf16 / fp16 FLOP/s, where the table lists the with-sparsity figure
DENSE_HALF_PRECISION = {"h200 sxm1": 989.5e12, "h200 nvl1": 835.5e12}
HALF = (torch.bfloat16, torch.float16)


def chip_peak_flops(chip: str, dtype: torch.dtype) -> float | None:
    """Dense peak FLOP/s of `chip` (a key of Lightning's table) at `dtype`; None when the table has no entry."""
    if dtype in HALF and chip in DENSE_HALF_PRECISION:
        return DENSE_HALF_PRECISION[chip]
    value = _CUDA_FLOPS.get(chip, {}).get(dtype)
    return float(value) if value else None


def device_peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    """Dense peak FLOP/s of `device` at `dtype`; None on a CPU (no honest peak to divide by) or an unknown GPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device).lower()
    if "h200" in name:
        return chip_peak_flops("h200 nvl1" if "nvl" in name else "h200 sxm1", dtype)
    flops = get_available_flops(device, dtype)
    return float(flops) if flops else None
