"""``qdemo browse``, ``qdemo rate``, ``qdemo validate`` (registered by qdemo.cli).

``qdemo browse``, ``qdemo rate``, ``qdemo validate``. Only the standard library is imported
here; the servers never import torch.
"""

from __future__ import annotations

import argparse
import signal
import sys


def _serve(app, args: argparse.Namespace, what: str) -> int:
    from qdemo.errors import QdemoError
    from qdemo.web.server import Server
    from qdemo.web.hosts import is_loopback, is_wildcard

    host, port = args.host, args.port
    try:
        server = Server(app, host, port, quiet=True, allow_hosts=tuple(args.allow_host or ()))
    except ValueError as exc:  # a malformed --allow-host
        raise QdemoError(str(exc)) from None
    except (OSError, OverflowError) as exc:
        raise QdemoError(f"--host {host} --port {port}: cannot listen ({getattr(exc, 'strerror', None) or exc})") from None
    if not is_loopback(host):  # before the "serving" lines: whoever waits for those has seen it
        hint = (" Other machines must address it by a name or address given with --allow-host."
                if is_wildcard(host) else "")
        print(f"qdemo {what}: warning: listening on {host}, reachable from other machines (no authentication: "
              f"use a trusted network only).{hint}", file=sys.stderr, flush=True)
    print(f"qdemo {what}: serving on {server.url}  (Ctrl-C to stop)", flush=True)
    print(f"qdemo {what}: answering requests addressed to {', '.join(sorted(server.httpd.allowed_hosts))} "
          f"(port {server.httpd.server_address[1]}; more with --allow-host NAME)", flush=True)

    def _stop(signum, frame):  # SIGTERM: shut down as cleanly as on Ctrl-C
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread (embedded use)
        pass
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"qdemo {what}: stopped", flush=True)
    finally:
        close = getattr(app, "close", None)
        if close:
            close()
    return 0


def cmd_browse(args: argparse.Namespace) -> int:
    from qdemo.web.browse import BrowseApp

    app = BrowseApp(args.archives, compare=args.compare or [])
    for w in app.warnings:
        print(f"qdemo browse: warning: {w}", file=sys.stderr)
    return _serve(app, args, "browse")


def cmd_rate(args: argparse.Namespace) -> int:
    from qdemo.errors import QdemoError

    if args.export:
        from qdemo.web.ratings import export_csv

        if not args.db:
            raise QdemoError("qdemo rate --export: give --db ratings.sqlite")
        n = export_csv(args.db, args.export)
        print(f"qdemo rate: exported {n} ratings from {args.db} to {args.export}")
        return 0
    if not args.stimuli:
        raise QdemoError("qdemo rate: give STIMULI_DIR (or --export OUT.csv --db DB to export)")
    if not args.db:
        raise QdemoError("qdemo rate: give --db ratings.sqlite (ratings are stored there)")
    from qdemo.web.rate import RateApp

    app = RateApp(args.stimuli, args.db, seed=args.seed)
    print(f"qdemo rate: {len(app.stimuli)} stimuli from {args.stimuli}; ratings -> {args.db}")
    return _serve(app, args, "rate")


def cmd_validate(args: argparse.Namespace) -> int:
    from qdemo.web.validate import run_validate

    run_validate(args.db, key=args.key, out=args.out, flag_below=args.flag_below)
    return 0


def _add_server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = any free port; default 8765)")
    p.add_argument("--allow-host", action="append", metavar="NAME",
                   help="also answer requests whose Host header is NAME (with the port), e.g. this machine's "
                        "name or address on the network when --host 0.0.0.0; may be repeated (default: "
                        "localhost, 127.0.0.1, ::1 and the --host address). Others get HTTP 403 (DNS rebinding)")


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    p = subparsers.add_parser(
        "browse", help="browse archives in the web browser (VA heatmaps, elites, samples, photos)",
        description="Serve an interactive page over one or more archive run folders "
                    "(archives/<run>/ from qdemo evolve). Two archives are shown side by side "
                    "with the same cell selected in both.",
    )
    p.add_argument("archives", nargs="+", metavar="ARCHIVE", help="archive run folder(s)")
    p.add_argument("--compare", action="append", metavar="DIR",
                   help="comparison folder (qdemo compare --out DIR) whose samples.csv gives "
                        "generator samples per cell; may be repeated")
    _add_server_args(p)
    p.set_defaults(func=cmd_browse)

    p = subparsers.add_parser(
        "rate", help="SAM rating session in the web browser (ratings stored in SQLite)",
        description="Serve a Self-Assessment Manikin rating study over STIMULI_DIR (a folder "
                    "from qdemo export-study, or any folder of images). Ratings are written to "
                    "--db (SQLite, WAL) as they are given. With --export OUT.csv, write the "
                    "ratings of --db as CSV and exit.",
    )
    p.add_argument("stimuli", nargs="?", metavar="STIMULI_DIR", help="stimulus folder")
    p.add_argument("--db", metavar="DB", help="SQLite database of ratings (created if absent)")
    p.add_argument("--export", metavar="OUT.csv", help="export the ratings in --db to CSV and exit")
    p.add_argument("--seed", type=int, default=0,
                   help="study seed; each participant's order is seeded by (seed, participant id)")
    _add_server_args(p)
    p.set_defaults(func=cmd_rate)

    p = subparsers.add_parser(
        "validate", help="agreement between human SAM ratings and intended / predicted VAD",
        description="Mean human rating per stimulus (1-9 -> [-1, 1] by (x-5)/4) against the "
                    "intended and the predicted (critic) VAD of key.csv, per source: r, MAE, n; "
                    "printed table, validate.json and validate.png.",
    )
    p.add_argument("--db", required=True, metavar="DB", help="SQLite database from qdemo rate")
    p.add_argument("--key", metavar="KEY.csv",
                   help="the study's key.csv (default: key.csv of the stimulus folder recorded in DB)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: <DB stem>_validate/ beside DB)")
    p.add_argument("--flag-below", type=float, default=None, metavar="R",
                   help="flag raters whose mean leave-one-out r (valence, arousal) is below R (default 0.2)")
    p.set_defaults(func=cmd_validate)
