"""`make bench`: every benchmark in one go. Each prints its own ratios against a reference
measured in the same run; run one alone with `python -m bench.bench_stitch` (etc.)."""

from __future__ import annotations

import importlib
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the numbers, not loading bars


def _quiet_libraries() -> None:
    try:
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()

BENCHES = [
    "bench_analyze", "bench_stitch", "bench_audio", "bench_lora", "bench_lora_train", "bench_batch",
    "bench_postprocess", "bench_api", "bench_memory", "bench_quality", "bench_e5_torch",
]


def main() -> int:
    _quiet_libraries()
    failed = []
    for name in BENCHES:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        try:
            code = module.main([])  # each bench with its defaults, not `python -m bench`'s argv
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # one broken bench must not hide the others
            print(f"{name} failed: {exc!r}")
            code = 1
        print(f"--- {name}: {time.monotonic() - started:.1f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
