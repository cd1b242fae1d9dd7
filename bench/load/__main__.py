"""`python -m bench.load`: the load, soak and fault suite (docs/capacity.md). Bounded in time:
(1 + number of faults) × --seconds, plus about a minute of set-up and checks; stops by itself.
Exit status 0 when the ledger and every fault's behaviour checks pass, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.load import faults as fx
from bench.load.client import TRANSPORTS, Transport
from bench.load.run import Options, install_signal_handlers, print_report, run, to_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", type=int, default=30, help="simulated users (default 30)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per phase (default 60)")
    parser.add_argument(
        "--faults",
        default=",".join(fx.FAULTS),
        help=f"comma-separated, one phase each after the steady one, or 'none' (default {','.join(fx.FAULTS)})",
    )
    parser.add_argument("--fault-seconds", type=float, default=5.0, help="how long each fault lasts (default 5)")
    parser.add_argument("--model", choices=("fake", "local"), default="fake", help="fake upstream or the local SmolLM2")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a user's turns, seconds")
    parser.add_argument("--word-delay", type=float, default=0.02, help="the fake model's pause between words")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="users are spread over these")
    parser.add_argument("--llm-timeout", type=float, default=5.0, help="HELPLINE_LLM_TIMEOUT_SECONDS (default 5)")
    parser.add_argument("--recovery", type=float, default=15.0, help="the recovery bound reported, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", type=Path, help="keep the cluster's files (logs) in this folder")
    args = parser.parse_args(argv)
    faults = [] if args.faults == "none" else [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in fx.FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(fx.FAULTS)}")
    transports: list[Transport] = []
    for name in args.transports.split(","):
        if name not in TRANSPORTS:
            parser.error(f"unknown transport {name!r}; known: {', '.join(TRANSPORTS)}")
        transports.append(name)
    install_signal_handlers()
    opts = Options(
        users=args.users,
        seconds=args.seconds,
        faults=faults,
        fault_seconds=args.fault_seconds,
        model=args.model,
        think_s=args.think,
        word_delay_s=args.word_delay,
        transports=transports,
        llm_timeout_s=args.llm_timeout,
        recovery_s=args.recovery,
        root=args.keep,
    )
    print(f"bench.load: {opts.users} users, {len(faults) + 1} phases of {opts.seconds:g} s, model {opts.model}")
    report = run(opts)
    print_report(report, opts.users)
    if args.json:
        args.json.write_text(json.dumps(to_json(report), indent=2))
    print("\nresult:", "PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
