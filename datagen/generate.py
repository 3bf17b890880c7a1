"""Generate the four raw tables: ``generate()`` and ``python -m datagen``.

Settings: ``planted`` (the first, easy generator, :mod:`datagen.planted`) and
the harder ``realistic`` and ``sparse`` presets of :mod:`datagen.realistic`,
on which quality is judged. The realistic settings take a course catalogue
(``--catalogue``, a ``course_tags`` export); by default they use the planted
generator's synthetic catalogue, so no outside file is needed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from contracts.cli_help import DefaultsHelpFormatter
from datagen import planted, realistic
from datagen.messy import ALL_KINDS, GROUPS, expand, make_messy
from datagen.tables import FORMATS, write_dataset

SETTING_NAMES: tuple[str, ...] = ("planted", *realistic.SETTINGS)
DEFAULT_SETTING = "planted"


def generate(
    out_dir: Path,
    users: int = 10_000,
    seed: int = 42,
    fmt: str = "csv",
    force: bool = False,
    setting: str = DEFAULT_SETTING,
    catalogue: Path | None = None,
    overrides: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write the four raw tables and ``truth/user_groups.csv`` into ``out_dir``; return row counts."""
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if setting not in SETTING_NAMES:
        raise ValueError(f"setting must be one of {SETTING_NAMES}, got {setting!r}")
    if setting == "planted":
        if catalogue is not None or overrides:
            raise ValueError("--catalogue and --set apply to the realistic settings only")
        return write_dataset(out_dir, fmt, force, lambda: planted.chunks(users, seed))
    chosen = realistic.SETTINGS[setting].with_overrides(overrides or {})
    course_tags = (realistic.read_catalogue(catalogue) if catalogue is not None
                   else planted.build_catalogue(seed).course_tag_table)
    return write_dataset(out_dir, fmt, force, lambda: realistic.chunks(users, seed, chosen, course_tags))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m datagen",
        description="Generate deterministic synthetic raw tables (users in latent taste groups) plus "
                    "truth/user_groups.csv.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--users", type=int, default=10_000, help="number of users, handles 1..N")
    p.add_argument("--seed", type=int, default=42, help="random seed (>= 0); same inputs give identical files")
    p.add_argument("--out", type=Path, required=True, help="output folder for the four tables and truth/")
    p.add_argument("--format", choices=FORMATS, default="csv", help="file format of the four tables")
    p.add_argument("--setting", choices=SETTING_NAMES, default=DEFAULT_SETTING,
                   help="planted: the easy first generator; realistic / sparse: popularity, sibling groups, "
                        "course identity, engagement, thin users (docs/analysis.md)")
    p.add_argument("--catalogue", type=Path, default=None,
                   help="course_tags export to use as the course catalogue (realistic settings)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override one knob of a realistic setting (see datagen/realistic.py Setting)")
    p.add_argument("--force", action="store_true", help="overwrite generated files already in --out")
    p.add_argument("--dirt", action="append", default=[], metavar="KIND",
                   help="inject this kind of dirt (repeatable; csv only) and write EXPECTED_DIRT.json with its "
                        "exact effect; kinds: " + ", ".join(ALL_KINDS) + "; groups: " + ", ".join(GROUPS))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: generate, then print row counts and elapsed time."""
    args = _parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.dirt and args.format != "csv":
            raise ValueError("--dirt writes CSV files; use --format csv")
        expand(args.dirt)  # refuse unknown kinds before generating anything
        overrides = dict(item.split("=", 1) for item in args.set if "=" in item)
        if len(overrides) != len(args.set):
            raise ValueError("--set takes FIELD=VALUE")
        counts = generate(args.out, args.users, args.seed, args.format, force=args.force, setting=args.setting,
                          catalogue=args.catalogue, overrides=overrides)
        if args.dirt:
            expected = make_messy(args.out, args.out, args.dirt, seed=args.seed)
            print(f"dirt: {', '.join(expected.kinds)}; expected effect in {args.out / 'EXPECTED_DIRT.json'}")
    except (FileExistsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    for name, rows in counts.items():
        print(f"{name}: {rows:,} rows")
    print(f"wrote {args.out} ({args.format}, setting={args.setting}, users={args.users}, seed={args.seed}) "
          f"in {elapsed:.2f} s")
    return 0
