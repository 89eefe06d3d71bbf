"""Run the fuzz targets of :mod:`fuzz.targets`.

Coverage-guided with atheris (libFuzzer) when it is installed (``make fuzz`` installs
it)::

    python -m fuzz.run --runs 1000000

Without atheris, a seeded random-mutation loop over the seeds (what ``make test`` runs
briefly, see ``tests/test_fuzz.py``)::

    python -m fuzz.run --runs 20000 --plain --seed 1

Exit status 0 means no input broke the invariant; otherwise the failing input is
printed (and atheris writes it to a ``crash-*`` file).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main", "mutate", "plain_loop"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """A few random byte edits, biased towards the characters the codecs care about."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        pos = rng.randint(0, len(buf))
        if choice < 0.35 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice < 0.7:
            buf[pos:pos] = bytes([rng.choice(b'0123456789-/,[]{}":\xff\x1e\r\n :?&=%b')])
        elif choice < 0.85 and buf:
            del buf[min(pos, len(buf) - 1)]
        elif buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 16)]
    return bytes(buf)


def plain_loop(
    runs: int,
    seed: int,
    seeds: Sequence[bytes] | None = None,
    target: Callable[[bytes], None] | None = None,
) -> int:
    """Runs ``runs`` mutated ``seeds`` through ``target`` (default: every target of
    :mod:`fuzz.targets` and its seeds); returns how many ran."""
    if seeds is None or target is None:
        from fuzz.targets import SEEDS, one_input

        seeds = SEEDS if seeds is None else seeds
        target = one_input if target is None else target
    rng = random.Random(seed)
    for run in range(runs):
        data = mutate(rng, rng.choice(seeds))
        try:
            target(data)
        except Exception:
            print(f"run {run}: failing input {data!r}", file=sys.stderr)
            raise
    return runs


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--runs N`` inputs, atheris unless ``--plain``."""
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--runs", type=int, default=1_000_000)
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--plain", action="store_true", help="no atheris: random mutations")
    args, rest = cli.parse_known_args(argv)
    started = time.monotonic()
    try:
        import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        atheris = None
    if args.plain or atheris is None:
        ran = plain_loop(args.runs, args.seed)
        took = time.monotonic() - started
        print(f"{ran} inputs in {took:.0f} s (random mutations), no invariant broken")
        return
    with atheris.instrument_imports(include=["plexio", "h11", "msgpack", "orjson"]):
        from fuzz.targets import SEEDS, one_input
    corpus = Path(tempfile.mkdtemp(prefix="plexio-fuzz-"))
    for n, seed in enumerate(SEEDS):
        (corpus / f"seed-{n}").write_bytes(seed)
    atheris.Setup(
        [sys.argv[0], f"-atheris_runs={args.runs}", f"-seed={args.seed or 1}", *rest, str(corpus)],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
