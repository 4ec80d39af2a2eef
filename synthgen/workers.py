"""Worker processes and Ray, shared by everything that renders in parallel (``synthgen
generate``, ``examiner search --workers / --ray``): one numeric thread per worker, workers that
never outlive the run that started them, and a Ray session that is started (and stopped) only
when the caller has none."""

from __future__ import annotations

import contextlib
import os
import threading
import time

from synthgen.errors import SynthgenError

#: one thread per worker for every numeric library: identical bytes whatever the worker count
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def optional_ray_address(argv: list[str]) -> list[str]:
    """Command-line arguments where ``--ray`` may stand alone (a local Ray instance) or take an
    ADDRESS."""
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--ray" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out[i] = "--ray=local"
    return out


def set_thread_env() -> None:
    """Put THREAD_ENV into this process's environment (read by the workers it spawns)."""
    for k, v in THREAD_ENV.items():
        os.environ.setdefault(k, v)


def init_worker(parent_pid: int) -> None:
    """In a freshly spawned worker: one torch thread, and exit when the parent is gone (a
    ``kill -9`` of the run included)."""
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("LP_NUM_THREADS", "1")  # Mesa's rasterizer: read when the worker's GL context is made

    def watch_parent():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch_parent, daemon=True).start()


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one thread inside the block (then as before): the body's float results depend
    on the thread count in the last bits, so work that must match a worker's bytes (which run
    on one thread, THREAD_ENV) runs like this in the main process too."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def ray_session(address: str, workers: int):
    """Ray at ``address`` ('local': a local instance with ``workers`` CPUs); started and shut
    down here only if this process has no Ray session yet. Yields the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise SynthgenError("--ray needs Ray, an optional extra: pip install 'pose-examiner[ray]'") from None
    import logging

    local = address == "local"
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if local else address, num_cpus=workers if local else None,
                 include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 runtime_env={"env_vars": THREAD_ENV})
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
