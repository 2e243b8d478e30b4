"""Where the training path may read a tensor's values on the host.

Reading a CUDA tensor's value on the host (``.item()``, ``bool()``, ``.tolist()``, a data-dependent shape) makes
the host wait until the GPU has run every kernel queued before it, so the GPU then idles while the host queues the
next ones; a step with several such reads runs in lockstep with the host. On the CPU the values are already on the
host and reading them costs nothing, so the checks and shortcuts that read values (id ranges, dropping an all-ones
attention mask, projecting only the scored rows) run there and are skipped on a GPU, where the path that needs no
value is taken: the same outputs, the mask kept, every row projected with the ignored ones weighing nothing.
Under ``torch.compile`` nothing reads values either (a read would break the graph). Left on purpose: BERT's masked
LM head projects only the masked positions (a boolean index, so one sync a step), as ModernBERT's sparse prediction
does: it saves the vocabulary projection over the other 85% of positions, which costs more than the wait.
"""

from __future__ import annotations

import torch
from torch import Tensor


def reads_values(tensor: Tensor) -> bool:
    """True where reading `tensor`'s values on the host is free: a CPU tensor outside compilation."""
    return tensor.device.type == "cpu" and not torch.compiler.is_compiling()
