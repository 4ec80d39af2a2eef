"""Loading this project's NVIDIA Warp kernels: compiled on a machine's first use (a few
seconds, then cached by Warp) and loaded without Warp's per-module timing line on standard
output. Every kernel here runs on the CPU device. Safe to call from several threads at once
(``Renderer.render_many`` dresses and labels its first samples on two threads)."""

from __future__ import annotations

import threading

import warp as wp

_LOADED: set[str] = set()
_LOCK = threading.Lock()


def load(module: str) -> None:
    """Compile if needed and load the kernels of ``module`` (its ``__name__``), once a process."""
    if module in _LOADED:
        return
    with _LOCK:
        if module in _LOADED:
            return
        level = wp.config.log_level
        wp.config.log_level = max(level, wp.LOG_WARNING)
        try:
            wp.load_module(module, device="cpu")
        finally:
            wp.config.log_level = level
        _LOADED.add(module)
