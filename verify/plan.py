"""The bounds of one practitioner's setup: ``python -m verify.plan --model-dir DIR | --gguf PATH [--adapter DIR]``.

Reads the model's facts (a Hugging Face ``config.json`` of the llama, qwen2, gpt_neox or gemma3 families,
``text_config`` nesting included, or a GGUF header), a PEFT ``adapter_config.json`` if given, and prints,
each with where it came from: the facts; the radius used and how it was obtained (``--radius``, else the
largest |value| of the adapter's saved tensor, read lazily with safetensors, else measured from the model:
the l_inf radius of last-layer states as ``verify.real`` measures it, and for prefix tuning the radius of
the model's own keys and values on random tokens); T1 for the adapter's method at its m (bits, tokens'
worth, tokens per virtual token), with the cone and box refinements where the model was measured; prompt
tuning beside prefix tuning at equal m; T2 with a finite vocabulary against the context window; and, with
``--dataset N:K[:A]``, the smallest m that could possibly store it for each method (a necessary condition
only). Every bound comes from ``bounds`` (prefix tuning: ``bounds/prefix.py``). With ``--radius``, the
config files alone suffice: no weights are read and torch is not imported.

Examples:
    python -m verify.plan --gguf SmolLM2-135M-Instruct.Q4_1.gguf --dataset 1000:1:4
    python -m verify.plan --model-dir base/ --adapter my_prefix_adapter/ --radius 4 --format json

Bad input (a missing or unknown config, a missing field, an unreadable file) prints one line naming the
file and the field and exits 2.

>>> facts = facts_from_config({"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2,
...     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 128},
...     "config.json")
>>> facts["d_kv"].value, facts["head_dim"].source
(16, 'config.json: hidden_size / num_attention_heads')
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mpmath

import bounds
from bounds import rounding

FAMILIES = ("llama", "qwen2", "gpt_neox", "gemma3", "gemma3_text")
# tie_word_embeddings when config.json leaves it out: the defaults of each family's config class
TIED_DEFAULT = {"llama": False, "qwen2": False, "gpt_neox": False, "gemma3": True, "gemma3_text": True}
METHODS = {"PROMPT_TUNING": "prompt", "P_TUNING": "prompt", "PREFIX_TUNING": "prefix"}
DEFAULT_VIRTUAL_TOKENS = 20


class PlanError(ValueError):
    """Bad input to the planner: one line naming the file and the field (the command exits 2)."""


@dataclass(frozen=True)
class Fact:
    """A value and where it came from ('config.json: hidden_size', 'GGUF llama.block_count', ...)."""

    value: object
    source: str


# ----------------------------------------------------------------------------------------- reading facts
def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: not readable JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: not a JSON object")
    return data


def _integer(where: str, field: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PlanError(f"{where}: field {field} must be an integer >= {low}, got {value!r}")
    return value


def _first(config: dict, where: str, names: tuple, required: bool = True):
    for name in names:
        if config.get(name) is not None:
            return name, config[name]
    if required:
        raise PlanError(f"{where}: missing field {' | '.join(names)}")
    return None, None


def facts_from_config(config: dict, where: str) -> dict:
    """Facts of a Hugging Face config (a dict read from ``where``): d, layers, heads, kv_heads, head_dim,
    d_kv, vocab, context_window, dtype, tied; multimodal configs are read from their ``text_config``."""
    family = config.get("model_type")
    if isinstance(config.get("text_config"), dict):
        where, config = f"{where}: text_config", {**config["text_config"], "_outer": family}
        family = config.get("model_type", family)
    if family not in FAMILIES:
        raise PlanError(f"{where}: field model_type is {family!r}, not one of {', '.join(FAMILIES)}")
    out = {"family": Fact(family, f"{where}: model_type")}
    for key, names in (("d", ("hidden_size", "n_embd", "d_model")), ("layers", ("num_hidden_layers", "n_layer")),
                       ("heads", ("num_attention_heads", "n_head")), ("vocab", ("vocab_size",))):
        name, value = _first(config, where, names)
        out[key] = Fact(_integer(where, name, value, 2 if key == "vocab" else 1), f"{where}: {name}")
    name, value = _first(config, where, ("num_key_value_heads",), required=False)
    out["kv_heads"] = (Fact(_integer(where, name, value), f"{where}: {name}") if name
                       else Fact(out["heads"].value, f"{where}: num_attention_heads (no num_key_value_heads)"))
    name, value = _first(config, where, ("head_dim",), required=False)
    if name:
        out["head_dim"] = Fact(_integer(where, name, value), f"{where}: head_dim")
    else:
        if out["d"].value % out["heads"].value:
            raise PlanError(f"{where}: field head_dim missing and hidden_size is not a multiple of the heads")
        out["head_dim"] = Fact(out["d"].value // out["heads"].value, f"{where}: hidden_size / num_attention_heads")
    _with_d_kv(out)
    name, value = _first(config, where, ("max_position_embeddings", "n_positions"), required=False)
    out["context_window"] = Fact(_integer(where, name, value) if name else None, f"{where}: {name}" if name else "unknown")
    name, value = _first(config, where, ("torch_dtype", "dtype"), required=False)
    out["dtype"] = Fact(str(value) if name else None, f"{where}: {name}" if name else "unknown")
    if "tie_word_embeddings" in config:
        out["tied"] = Fact(bool(config["tie_word_embeddings"]), f"{where}: tie_word_embeddings")
    else:
        out["tied"] = Fact(TIED_DEFAULT[family], f"default of {family} (tie_word_embeddings absent)")
    return out


def _with_d_kv(out: dict) -> None:
    kv, hd = out["kv_heads"], out["head_dim"]
    out["d_kv"] = Fact(kv.value * hd.value, "kv_heads * head_dim")


def read_model_dir(path) -> dict:
    """Facts of a Hugging Face model folder (its config.json)."""
    folder = Path(path)
    if not folder.is_dir():
        raise PlanError(f"{folder}: not a folder")
    config_path = folder / "config.json"
    return facts_from_config(_read_json(config_path), str(config_path))


def read_gguf(path) -> dict:
    """Facts of a GGUF file, from its header (metadata and tensor names; no tensor is read)."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"{path}: file not found")
    try:
        from gguf import GGUFReader, LlamaFileType
        reader = GGUFReader(str(path))
    except ImportError:
        raise PlanError(f"{path}: reading GGUF needs the gguf package (pip install gguf)") from None
    except Exception as exc:          # the reader raises ValueError, struct errors, OSError on a bad file
        raise PlanError(f"{path}: not a readable GGUF file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None

    def field(key, required=True):
        f = reader.fields.get(key)
        if f is None:
            if required:
                raise PlanError(f"{path}: missing GGUF field {key}")
            return None
        return f.contents()

    arch = field("general.architecture")
    where = f"GGUF {path.name}"
    out = {"family": Fact(arch, f"{where}: general.architecture")}
    for key, name in (("d", "embedding_length"), ("layers", "block_count"), ("heads", "attention.head_count")):
        out[key] = Fact(_integer(where, f"{arch}.{name}", field(f"{arch}.{name}")), f"{where}: {arch}.{name}")
    kv = field(f"{arch}.attention.head_count_kv", required=False)
    out["kv_heads"] = (Fact(_integer(where, f"{arch}.attention.head_count_kv", kv), f"{where}: {arch}.attention.head_count_kv")
                       if kv is not None else Fact(out["heads"].value, f"{where}: {arch}.attention.head_count"))
    hd = field(f"{arch}.attention.key_length", required=False)
    out["head_dim"] = (Fact(_integer(where, f"{arch}.attention.key_length", hd), f"{where}: {arch}.attention.key_length")
                       if hd is not None else Fact(out["d"].value // out["heads"].value,
                                                   f"{where}: embedding_length / head_count"))
    _with_d_kv(out)
    vocab = field(f"{arch}.vocab_size", required=False)
    if vocab is not None:
        out["vocab"] = Fact(_integer(where, f"{arch}.vocab_size", vocab, 2), f"{where}: {arch}.vocab_size")
    else:
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        if tokens is None:
            raise PlanError(f"{path}: missing GGUF field {arch}.vocab_size (and tokenizer.ggml.tokens)")
        out["vocab"] = Fact(len(tokens.data), f"{where}: length of tokenizer.ggml.tokens")
    ctx = field(f"{arch}.context_length", required=False)
    out["context_window"] = Fact(ctx, f"{where}: {arch}.context_length" if ctx is not None else "unknown")
    file_type = field("general.file_type", required=False)
    try:
        type_name = LlamaFileType(file_type).name if file_type is not None else None
    except ValueError:
        type_name = f"file_type {file_type}"
    out["dtype"] = Fact(type_name, f"{where}: general.file_type (weights; transformers de-quantizes to float32)")
    names = {t.name for t in reader.tensors}
    out["tied"] = Fact("output.weight" not in names, f"{where}: tensor output.weight {'absent' if 'output.weight' not in names else 'present'}")
    return out


def read_adapter(path, facts: dict) -> dict:
    """A PEFT prompt-learning adapter: its adapter_config.json fields, checked against the model's facts,
    and the largest |value| of its saved tensor (``prompt_embeddings``) with that tensor's dtype."""
    folder = Path(path)
    config_path = folder / "adapter_config.json"
    where = str(config_path)
    config = _read_json(config_path)
    peft_type = config.get("peft_type")
    if peft_type not in METHODS:
        raise PlanError(f"{where}: field peft_type is {peft_type!r}, not one of {', '.join(METHODS)}")
    out = {"peft_type": Fact(peft_type, f"{where}: peft_type"), "method": Fact(METHODS[peft_type], f"{where}: peft_type")}
    for key in ("num_virtual_tokens", "token_dim", "num_layers"):
        if key not in config:
            raise PlanError(f"{where}: missing field {key}")
        out[key] = Fact(_integer(where, key, config[key]), f"{where}: {key}")
    out["num_transformer_submodules"] = Fact(
        _integer(where, "num_transformer_submodules", config.get("num_transformer_submodules") or 1),
        f"{where}: num_transformer_submodules" if config.get("num_transformer_submodules") else "default 1")
    if out["method"].value == "prompt" and out["token_dim"].value != facts["d"].value:
        raise PlanError(f"{where}: field token_dim is {out['token_dim'].value}, the model's width d is {facts['d'].value}")
    if out["method"].value == "prefix":
        if out["token_dim"].value != facts["d_kv"].value:
            raise PlanError(f"{where}: field token_dim is {out['token_dim'].value}, the model's key/value width "
                            f"num_key_value_heads*head_dim is {facts['d_kv'].value}")
        if out["num_layers"].value != facts["layers"].value:
            raise PlanError(f"{where}: field num_layers is {out['num_layers'].value}, the model has {facts['layers'].value}")
    out.update(_adapter_tensor(folder))
    return out


def _adapter_tensor(folder: Path) -> dict:
    """{'tensor_radius': Fact, 'tensor_dtype': Fact, 'tensor_shape': Fact} of the saved prompt tensor, or {}."""
    st, binary = folder / "adapter_model.safetensors", folder / "adapter_model.bin"
    if st.is_file():
        try:
            from safetensors import safe_open
            with safe_open(str(st), framework="numpy") as f:
                if "prompt_embeddings" not in f.keys():
                    raise PlanError(f"{st}: missing tensor prompt_embeddings")
                dtype = f.get_slice("prompt_embeddings").get_dtype()
                tensor = f.get_tensor("prompt_embeddings")    # one tensor, not the file
        except PlanError:
            raise
        except ImportError:
            raise PlanError(f"{st}: reading it needs safetensors (pip install '.[peft]')") from None
        except Exception as exc:
            raise PlanError(f"{st}: not readable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        radius, shape = float(abs(tensor).max()), list(tensor.shape)
        dtype = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64"}.get(dtype, dtype)
        source = f"{st}: max |prompt_embeddings|"
    elif binary.is_file():
        import torch
        try:
            state = torch.load(str(binary), map_location="cpu", weights_only=True, mmap=True)
            tensor = state["prompt_embeddings"]
        except KeyError:
            raise PlanError(f"{binary}: missing tensor prompt_embeddings") from None
        except Exception as exc:
            raise PlanError(f"{binary}: not readable ({type(exc).__name__})") from None
        radius, shape = float(tensor.abs().max()), list(tensor.shape)
        dtype = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16", torch.float64: "fp64"}.get(tensor.dtype, str(tensor.dtype))
        source = f"{binary}: max |prompt_embeddings|"
    else:
        return {}
    if not math.isfinite(radius) or radius <= 0:
        raise PlanError(f"{source}: the saved values give radius {radius}, not a positive finite number")
    return {"tensor_radius": Fact(radius, source), "tensor_dtype": Fact(dtype, source.replace("max |", "dtype of |")),
            "tensor_shape": Fact(shape, source.replace("max |", "shape of |"))}


# ----------------------------------------------------------------------------------------- measuring
def measure(model_dir=None, gguf=None, *, samples: int = 8, max_length: int = 256, seed: int = 0, cells: int = 0,
            log=None) -> dict:
    """Load the model (verify.real) and measure r (last-layer states, ``verify.lm_geometry.measure_geometry``),
    theta, the box, and r_kv: the largest |key| or |value| the model itself puts in its cache on
    ``samples`` random-token sequences of ``max_length`` (the values a prefix stands in for)."""
    import torch

    from verify import lm_geometry, real
    from verify.model import ModelFileError

    t0 = time.time()
    try:
        lm = real.load(model_dir=model_dir, gguf=gguf)
    except ModelFileError as exc:
        raise PlanError(str(exc)) from None
    if log:
        log(f"plan: loaded the model in {time.time() - t0:.1f} s; measuring r (verify.lm_geometry.measure_geometry)")
    geometry = lm_geometry.measure_geometry(lm, samples=samples, max_length=max_length, seed=seed, log=log)
    if log:
        log(f"plan: r = {geometry['r']:.4g}; measuring r_kv from the model's keys and values")
    alphabet = torch.tensor(lm.alphabet(), dtype=torch.long)
    g = torch.Generator().manual_seed(seed + 1)
    tokens = alphabet[torch.randint(0, len(alphabet), (samples, max_length), generator=g)]
    r_kv = 0.0
    with torch.no_grad():
        for start in range(0, samples, 4):
            cache = lm.hf(input_ids=tokens[start:start + 4], use_cache=True).past_key_values
            for keys, values in _cache_layers(cache):
                r_kv = max(r_kv, float(keys.abs().max()), float(values.abs().max()))
    sides = [h - l for l, h in zip(geometry["lo"], geometry["hi"])]
    volumes = None
    if cells:
        if log:
            log(f"plan: {cells} Monte Carlo points for the next-token cells (verify.measure.cell_counts)")
        counts, _ = lm_geometry.lm_cell_counts(lm, geometry["r"], cells, seed=seed + 2)
        volumes = lm_geometry.cell_volumes(counts, cells).tolist()
    return {"r": geometry["r"], "theta": geometry["theta"], "sides": sides, "r_kv": r_kv, "volumes": volumes,
            "cells": cells,
            "settled": geometry["settled"], "samples": samples, "max_length": geometry["max_length"],
            "seconds": round(time.time() - t0, 1)}


def _cache_layers(cache):
    """(keys, values) per layer of a transformers cache (Cache objects of 4.5x and 5.x, or legacy tuples)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v in cache]


# ----------------------------------------------------------------------------------------- the plan
def _parse_dataset(text: str):
    """'N:K' or 'N:K:A' -> (N, K, A or None).

    >>> _parse_dataset("1000:1:4"), _parse_dataset("10:3")
    ((1000, 1, 4), (10, 3, None))
    """
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or min(values) < 1 or (len(values) == 3 and values[2] < 2):
        raise PlanError(f"--dataset: expected N:K or N:K:A (N, K >= 1, A >= 2), got {text!r}")
    return values[0], values[1], values[2] if len(values) == 3 else None


def plan(facts: dict, adapter: dict | None = None, *, radius: float | None = None, radius_kv: float | None = None,
         eps: str | None = None, dataset: tuple | None = None, measured: dict | None = None,
         virtual_tokens: int | None = None) -> list[dict]:
    """Rows {section, quantity, value, direction, source} of the whole plan (values mpf, int, str or None).

    Radius: ``radius`` (prompt r; also r_kv unless ``radius_kv``), else the adapter's saved tensor (its
    method's radius), else ``measured`` (``measure``). ``eps``: a dtype name or number; default the
    adapter tensor's dtype, else the model's dtype if it is a float format, else fp32. The arithmetic on
    the bounds (ratios, tokens' worth) runs at ``bounds.DEFAULT_DPS`` digits, the bounds' own.
    """
    with mpmath.workdps(bounds.DEFAULT_DPS):
        return _plan_rows(facts, adapter, radius=radius, radius_kv=radius_kv, eps=eps, dataset=dataset,
                          measured=measured, virtual_tokens=virtual_tokens)


def _plan_rows(facts: dict, adapter: dict | None, *, radius, radius_kv, eps, dataset, measured,
               virtual_tokens) -> list[dict]:
    rows = []

    def add(section, quantity, value, source, direction=None):
        rows.append({"section": section, "quantity": quantity, "value": value, "direction": direction,
                     "source": source})

    labels = {"family": "family", "d": "d (width)", "layers": "L (layers)", "heads": "query heads",
              "kv_heads": "key/value heads", "head_dim": "head_dim", "d_kv": "d_kv = kv_heads*head_dim",
              "vocab": "|V|", "context_window": "context window", "dtype": "dtype", "tied": "tied embeddings"}
    for key, label in labels.items():
        add("model", label, facts[key].value, facts[key].source)
    method, m, submodules = "prompt", virtual_tokens or DEFAULT_VIRTUAL_TOKENS, 1
    m_source = "--virtual-tokens" if virtual_tokens else f"default {DEFAULT_VIRTUAL_TOKENS} (no adapter)"
    if adapter:
        for key in ("peft_type", "num_virtual_tokens", "token_dim", "num_layers", "num_transformer_submodules",
                    "tensor_shape", "tensor_dtype"):
            if key in adapter:
                add("adapter", key, adapter[key].value if key != "tensor_shape" else "x".join(map(str, adapter[key].value)),
                    adapter[key].source)
        method, m = adapter["method"].value, adapter["num_virtual_tokens"].value
        submodules, m_source = adapter["num_transformer_submodules"].value, adapter["num_virtual_tokens"].source
    d, layers, d_kv, vocab = facts["d"].value, facts["layers"].value, facts["d_kv"].value, facts["vocab"].value

    # radii
    r = r_kv = None
    if radius is not None:
        r, r_src = radius, "--radius"
        r_kv, kv_src = (radius_kv, "--radius-kv") if radius_kv is not None else (radius, "--radius (same as r)")
    else:
        if adapter and "tensor_radius" in adapter:
            if method == "prompt":
                r, r_src = adapter["tensor_radius"].value, adapter["tensor_radius"].source
            else:
                r_kv, kv_src = adapter["tensor_radius"].value, adapter["tensor_radius"].source
        if measured:
            how = f"measured: verify.lm_geometry.measure_geometry, {measured['samples']} random-token prompts up to length {measured['max_length']}"
            if r is None:
                r, r_src = measured["r"], how + " (l_inf of last-layer states)"
            if r_kv is None:
                r_kv, kv_src = measured["r_kv"], (f"measured: max |key|, |value| of the model's own cache on "
                                                  f"{measured['samples']} random-token sequences of length {measured['max_length']}")
        if radius_kv is not None:
            r_kv, kv_src = radius_kv, "--radius-kv"
    if r is None or r_kv is None:
        raise PlanError("no radius: give --radius, an adapter with its saved tensor, or let the model be measured")
    add("radius", "r (prompt values, l_inf)", r, r_src)
    add("radius", "r_kv (prefix keys/values, l_inf)", r_kv, kv_src)

    if eps is not None:
        eps_label, eps_src = eps, "--eps"
    elif adapter and "tensor_dtype" in adapter and bounds.precision.is_dtype_name(adapter["tensor_dtype"].value):
        eps_label, eps_src = adapter["tensor_dtype"].value, adapter["tensor_dtype"].source
    elif facts["dtype"].value and bounds.precision.is_dtype_name(facts["dtype"].value):
        eps_label, eps_src = facts["dtype"].value, facts["dtype"].source
    else:
        eps_label, eps_src = "fp32", "default: fp32 (the model computes in float32)"
    try:
        eps_value = bounds.parse_eps(eps_label)
    except ValueError as exc:
        raise PlanError(f"--eps: {exc}") from None
    add("precision", "eps", eps_value, eps_src if eps_src.startswith("default") else f"{eps_label} ({eps_src})")
    add("precision", "m (virtual tokens)", m, m_source)

    log2_v = mpmath.log(vocab, 2)
    m_prompt = m * submodules
    prompt_bits = bounds.log2_prompts_ball(d, m_prompt, r, eps_value)
    prefix_bits = bounds.log2_prefixes_ball(layers, m, d_kv, r_kv, eps_value)
    chosen = "prefix tuning" if method == "prefix" else "prompt tuning"
    section = f"T1, {chosen} (the adapter's method)" if adapter else "T1"
    first, second = (("prefix", prefix_bits), ("prompt", prompt_bits)) if method == "prefix" else (("prompt", prompt_bits), ("prefix", prefix_bits))
    for name, bits in (first, second):
        sec = section if name == first[0] else "beside it, at equal m"
        key = "prefix_ball" if name == "prefix" else "t1_ball"
        what = (f"2*L*m*d_kv*log2(1 + 2 r_kv/eps), L = {layers}, d_kv = {d_kv}" if name == "prefix"
                else f"d*m*log2(1 + 2r/eps), d = {d}, m = {m_prompt}")
        add(sec, f"{name} tuning: log2 Npr (bits)", bits, f"bounds: {key}, {what}", "upper")
        add(sec, f"{name} tuning: tokens' worth (bits/log2|V|)", bits / log2_v, f"bounds: {key} / log2 {vocab}", "upper")
        per = bits / m
        add(sec, f"{name} tuning: tokens per virtual token", per / log2_v,
            "bounds: prefix_tokens_per_vector" if name == "prefix" else "bounds: tokens_per_vector", "upper")
        if bounds.precision.is_dtype_name(eps_label):
            flt = (bounds.log2_prefixes_float(layers, m, d_kv, r_kv, eps_label) if name == "prefix"
                   else bounds.log2_prompts_float(d, m_prompt, r, eps_label))
            add(sec, f"{name} tuning: float form, log2 Npr (bits)", flt,
                (f"bounds: prefix_float, {eps_label} values in [-r_kv, r_kv]" if name == "prefix" else f"bounds: t1_float, {eps_label} values in [-r, r]"), "upper")
    add("beside it, at equal m", "prefix/prompt slope ratio", prefix_bits / prompt_bits,
        f"2*L*d_kv*log2(1+2r_kv/eps) / (d*log2(1+2r/eps)); 2*L*d_kv/d = {mpmath.nstr(mpmath.mpf(2 * layers * d_kv) / d, 6)}", "upper")
    if measured:
        theta = measured["theta"]
        if 0 < theta <= math.pi and d >= 2:
            add("refinements (measured)", "prompt tuning: C cone (tokens per vector)",
                bounds.tokens_per_vector_cone(d, vocab, r, eps_value, theta), f"bounds: cone, theta = {theta:.4g} rad (measured)", "upper")
        sides = [max(float(s), 1e-30) for s in measured["sides"]]
        add("refinements (measured)", "prompt tuning: C box (tokens per vector)",
            bounds.log2_prompts_box(sides, 1, eps_value) / log2_v, "bounds: box, per-coordinate ranges of the measured states", "upper")
        if measured.get("volumes"):
            # n* - 1 with n* the non-uniform threshold at log2 Pk = one vector's ball count (verify.experiments.real_table1.table1_row)
            n_star = bounds.nonuniform_threshold(measured["volumes"], float(prompt_bits / m_prompt))
            add("refinements (measured)", "prompt tuning: C non-uniform cells (tokens per vector)", n_star - 1,
                f"bounds: nonuniform, {measured['cells']} Monte Carlo points (verify.measure.cell_counts)")
    # T2 with a finite vocabulary, q = 1, never above the support-net form (as bounds.table)
    t2_bits = min(bounds.log2_meanfield_vocab(vocab, r, eps_value, 1), bounds.log2_meanfield(d, r, eps_value, 1))
    add("T2 (finite vocabulary, q = 1)", "log2 Bw_V (bits)", t2_bits, "bounds: log2_meanfield_vocab (min with log2_meanfield, the support-net form)", "upper")
    add("T2 (finite vocabulary, q = 1)", "cap in tokens' worth", t2_bits / log2_v, "log2 Bw_V / log2|V|", "upper")
    window = facts["context_window"].value
    if window:
        add("T2 (finite vocabulary, q = 1)", "cap / context window", t2_bits / log2_v / window,
            f"context window {window} ({facts['context_window'].source})", "upper")
    if dataset:
        n_examples, k, alphabet = dataset
        a_src = "--dataset A" if alphabet else "|V| (uniform tokens)"
        alphabet = alphabet or vocab
        need = n_examples * k * mpmath.log(alphabet, 2)
        sec = "necessary condition only (--dataset)"
        add(sec, "bits to store (N*k*log2|A|)", need, f"N = {n_examples}, k = {k}, |A| = {alphabet} ({a_src})", "lower")
        add(sec, "prompt tuning: m_min", bounds.min_virtual_tokens_prompt(n_examples, k, alphabet, d, r, eps_value),
            "bounds: m_min_prompt; fewer vectors cannot store it, more may still fail")
        add(sec, "prefix tuning: m_min", bounds.min_virtual_tokens_prefix(n_examples, k, alphabet, layers, d_kv, r_kv, eps_value),
            "bounds: m_min_prefix; fewer virtual tokens cannot store it, more may still fail")
        if submodules > 1:
            rows[-2]["source"] += f" (counts m*{submodules} vectors: divide by {submodules} for m)"
    return rows


# ----------------------------------------------------------------------------------------- formats
def _text(row, digits: int = 6) -> str:
    value = row["value"]
    if value is None:
        return "-"
    if isinstance(value, (bool, str, int)):
        return str(value)
    return rounding.decimal_text(value, digits, row["direction"])


def _machine(row):
    value = row["value"]
    if value is None or isinstance(value, (bool, str, int)):
        return value
    return rounding.machine_value(value, row["direction"])


NOTE = ("Every T1 figure is an upper bound on what ANY training of this adapter could store (printed bounds "
        "rounded up); m_min is a necessary condition: fewer virtual tokens cannot store the dataset, more may "
        "still fail. Statements and assumptions: docs/theory.md.")


def format_markdown(rows) -> str:
    lines, section = [], None
    for row in rows:
        if row["section"] != section:
            section = row["section"]
            lines += ["", f"### {section}", "", "| quantity | value | from |", "|---|---:|---|"]
        lines.append(f"| {row['quantity']} | {_text(row)} | {row['source']} |".replace("\n", " "))
    return "\n".join(lines[1:] + ["", NOTE])


def format_json(rows) -> str:
    return json.dumps({"rows": [{**{k: row[k] for k in ("section", "quantity", "source")}, "value": _machine(row)}
                                for row in rows], "note": NOTE}, indent=1, allow_nan=False)


def format_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "quantity", "value", "source"])
    for row in rows:
        value = _machine(row)
        writer.writerow([row["section"], row["quantity"], value["value"] if isinstance(value, dict) else
                         ("" if value is None else repr(value) if isinstance(value, float) else value), row["source"]])
    return out.getvalue().rstrip("\n")


def format_latex(rows) -> str:
    lines = [r"\begin{tabular}{llr}", r"\toprule", r"section & quantity & value \\", r"\midrule"]
    for row in rows:
        text = _text(row)
        cell = rounding.latex_number(text) if row["value"] is not None and not isinstance(row["value"], (str, bool)) else rounding.latex_escape(text)
        lines.append(f"{rounding.latex_escape(row['section'])} & {rounding.latex_escape(row['quantity'])} & {cell} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", "% " + NOTE]
    return "\n".join(lines)


FORMATTERS = {"markdown": format_markdown, "json": format_json, "csv": format_csv, "latex": format_latex}


# ----------------------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    """``python -m verify.plan``: print the plan; bad input exits 2 with one line on stderr."""
    from verify.cli import ArgumentParser, UsageError, usage_failure

    p = ArgumentParser(prog="python -m verify.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", help="Hugging Face model folder (its config.json is read)")
    p.add_argument("--gguf", help="GGUF file (its header is read)")
    p.add_argument("--adapter", help="PEFT adapter folder (adapter_config.json, adapter_model.safetensors|.bin)")
    p.add_argument("--radius", type=float, help="radius r of the prompt values (and r_kv unless --radius-kv): no "
                   "weights are read, no model is run")
    p.add_argument("--radius-kv", type=float, help="radius r_kv of prefix keys/values")
    p.add_argument("--eps", help="precision: fp32/fp16/bf16/fp64 or a number (default: the adapter's dtype, "
                   "else the model's, else fp32)")
    p.add_argument("--dataset", help="N:K or N:K:A: N examples, K target tokens each, uniform over |V| or A labels")
    p.add_argument("--virtual-tokens", type=int, help=f"m without an adapter (default {DEFAULT_VIRTUAL_TOKENS})")
    p.add_argument("--samples", type=int, default=8, help="random prompts for measuring r and r_kv (default 8)")
    p.add_argument("--max-length", type=int, default=256, help="their length (default 256)")
    p.add_argument("--cells", type=int, default=10_000, help="Monte Carlo points for the non-uniform-cell "
                   "refinement when the model is measured (default 10000; 0 leaves it out)")
    p.add_argument("--format", choices=sorted(FORMATTERS), default="markdown")
    try:
        args = p.parse_args(argv)
        if (args.model_dir is None) == (args.gguf is None):
            raise UsageError("give exactly one of --model-dir and --gguf")
        for name in ("radius", "radius_kv"):
            value = getattr(args, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"--{name.replace('_', '-')} must be a finite number > 0, got {value}")
        for name in ("virtual_tokens", "samples", "max_length"):
            value = getattr(args, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        dataset = _parse_dataset(args.dataset) if args.dataset else None
        facts = read_model_dir(args.model_dir) if args.model_dir else read_gguf(args.gguf)
        adapter = read_adapter(args.adapter, facts) if args.adapter else None
        need_r = args.radius is None and not (adapter and "tensor_radius" in adapter and adapter["method"].value == "prompt")
        need_kv = args.radius is None and args.radius_kv is None and not (
            adapter and "tensor_radius" in adapter and adapter["method"].value == "prefix")
        measured = None
        if need_r or need_kv:
            if args.cells < 0:
                raise UsageError(f"--cells must be >= 0, got {args.cells}")
            measured = measure(args.model_dir, args.gguf, samples=args.samples, max_length=args.max_length,
                               cells=args.cells, log=lambda text: print(text, file=sys.stderr, flush=True))
        rows = plan(facts, adapter, radius=args.radius, radius_kv=args.radius_kv, eps=args.eps, dataset=dataset,
                    measured=measured, virtual_tokens=args.virtual_tokens)
        print(FORMATTERS[args.format](rows))
    except (PlanError, UsageError, ValueError) as exc:
        return usage_failure("verify.plan", exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
