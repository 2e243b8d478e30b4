"""Choose W&B's mode before any logger starts: offline unless credentials and network are both there."""

from __future__ import annotations

import netrc
import os
import socket
from urllib.parse import urlparse

DEFAULT_HOST = "https://api.wandb.ai"


def has_wandb_credentials(host: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(urlparse(host).hostname or host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def host_reachable(host: str, timeout_s: float = 3.0) -> bool:
    parsed = urlparse(host)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_wandb_mode() -> str:
    """Set WANDB_MODE=offline when there is no API key or no route to the server; return the mode.

    An explicit WANDB_MODE is respected. Offline runs are written under the logger's save_dir
    (wandb/offline-run-*) and can be uploaded later with `wandb sync <dir>`. The check is a
    3-second TCP connect, done only when credentials exist, so W&B never blocks on a missing
    network for its own (much longer) init timeout.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    host = os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)
    if not has_wandb_credentials(host) or not host_reachable(host):
        os.environ["WANDB_MODE"] = "offline"
        return "offline"
    return "online"
