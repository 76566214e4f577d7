"""`summit`: validate a schedule, print its plan, rehearse it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import math
import multiprocessing.forkserver
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

# Only the standard library at the top: `summit run` starts the publishers' fork server before the
# application is imported (see main); each command imports what it needs when it runs.
if TYPE_CHECKING:
    from orchestrator.schedule.model import Schedule

EXIT_INVALID = 2
# The fork server's preloaded modules, as `orchestrator.media.fork_server.PRELOAD` has them (a test
# checks): importing that module would import the orchestrator.media package, PyAV and pydantic
# with it (~0.2 s) before the fork server could start.
PUBLISHER_PRELOAD = ["orchestrator.media.forkserver_guard", "orchestrator.media.process_writer"]
# The commands defined here; any other is one of _COMMAND_MODULES'.
_BUILT_IN = frozenset({"validate", "plan", "rehearse", "run", "emulate", "doctor"})


def _log() -> Any:
    import structlog

    return structlog.get_logger(__name__)


MAX_SPEED = 10_000.0  # beyond this a session's cues come closer together than the programme's frames


def _speed(text: str) -> float:
    """--speed: a finite number of times faster than real time, above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number (e.g. 240)") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text}: the speed must be above 0 and at most {MAX_SPEED:g}")
    return value


def _port(text: str) -> int:
    """--dashboard/--port: 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (0-65535; 0 picks a free one)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value}: a port is 0-65535 (0 picks a free one)")
    return value


def _rtmp_url(text: str) -> str:
    """--rtmp/--backup-rtmp: an rtmp:// or rtmps:// application URL, with no credentials in it."""
    from orchestrator.redaction import mask_text

    parts = urlsplit(text)
    if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{mask_text(text)!r} is not an rtmp:// URL (e.g. rtmp://127.0.0.1:1935/live)")
    if parts.username or parts.password:
        raise argparse.ArgumentTypeError("a URL with a user or password in it: give the server's address only")
    return text


def _say(line: str) -> None:
    """A last line on stderr, which after a hang-up may be a terminal that is gone (EIO)."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _load(path: str) -> Schedule:
    from orchestrator.schedule.loader import ScheduleError, load_schedule

    try:
        return load_schedule(path)
    except ScheduleError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None


def cmd_validate(args: argparse.Namespace) -> int:
    """Every error (exit 2) or else every warning (exit 0), each with its file, line and path."""
    from orchestrator.schedule.loader import ScheduleError, load_schedule_checked

    try:
        schedule, warnings = load_schedule_checked(args.file, media_dir=args.media_dir)
    except ScheduleError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None
    for w in warnings:
        where = f"{w.file}:{w.line}" if w.line else w.file
        print(f"{where}: warning: {w.path or '(document)'}: {w.message}", file=sys.stderr)
    days = sorted({s.start.astimezone(schedule.event.tz).date() for s in schedule.sessions})
    segments = sum(len(s.rundown) for s in schedule.sessions)
    print(
        f"{args.file}: ok — {schedule.event.id}: {len(schedule.sessions)} sessions over {len(days)} day(s), "
        f"{segments} segments, {len(schedule.speakers)} speakers, {len(schedule.destinations)} destinations"
        + (f", {len(warnings)} warning(s)" if warnings else "")
    )
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from orchestrator.planning.plan import PlanSettings, plan

    schedule = _load(args.file)
    try:
        the_plan = plan(schedule, PlanSettings(), only=set(args.only) if args.only else None)
    except KeyError as exc:
        print(f"{args.file}: {exc.args[0]}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(the_plan.to_json(), indent=2, ensure_ascii=False))
        return 0
    tz = schedule.event.tz
    for a in the_plan.actions:
        when = a.at.astimezone(tz)
        print(f"{when:%a %Y-%m-%d %H:%M:%S %Z}  {a.kind.value:<17} {a.id:<48} {a.label}")
    print(f"{len(the_plan.actions)} actions for {len(the_plan.cue_sheets)} sessions")
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from orchestrator.app import port_problem
    from orchestrator.cli_users import access_options
    from orchestrator.logconfig import configure_logging
    from orchestrator.rehearsal import (
        DashboardPortError,
        Interrupted,
        RehearsalOptions,
        default_run_dir,
        rehearse,
        run_until_signal,
    )

    schedule = _load(args.file)
    problem = port_problem(args.dashboard)
    if problem:
        print(
            f"--dashboard {args.dashboard}: 127.0.0.1:{args.dashboard} {problem}; choose another port (0 picks a free one)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(schedule.event.id)
    progress = not args.no_progress
    if progress and sys.stdout.isatty():
        # The live table owns the terminal; log lines go to the run's folder instead.
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run_dir / "summit.log"
        configure_logging(args.log_format, args.log_level, stream=log_path.open("a", encoding="utf-8"))
        print(f"logging to {log_path}")
    options = RehearsalOptions(
        speed=args.speed,
        only=set(args.only or []),
        report_path=Path(args.report) if args.report else None,
        run_dir=run_dir,
        media_dir=Path(args.media_dir),
        progress=progress,
        outputs=args.outputs,
        rtmp_url=args.rtmp,
        dashboard_port=args.dashboard,
        access=access_options(args) if args.dashboard is not None else None,
        participants=args.participants,
    )
    try:
        report = run_until_signal(rehearse(schedule, options))
    except KeyError as exc:
        print(f"{args.file}: {exc.args[0]}", file=sys.stderr)
        return EXIT_INVALID
    except DashboardPortError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except Interrupted as exc:
        _say(f"rehearsal {exc}: everything it started is stopped; the run's folder is {run_dir}")
        return exc.exit_code
    s = report["summary"]
    print(
        f"rehearsal of {report['event']}: {s['sessions']} sessions, {s['actions']} actions "
        f"({s['ok']} ok, {s['failed']} failed, {s['skipped']} skipped, {s['not_run']} not run), "
        f"timing error max {s['max_error_ms']} ms mean {s['mean_error_ms']} ms, {s['outputs']} recordings, "
        f"{report['wall_seconds']} s wall; report: {report['report_path']}"
    )
    return 0 if s["failed"] == 0 and s["not_run"] == 0 else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run the event live on the system clock; safe to restart (the journal remembers)."""
    start_fork_server()  # started already by main (a no-op then); here for a caller of cmd_run itself
    from orchestrator.cli_users import access_options

    with _imports_without_gc():
        from orchestrator.app import AppSettings, StartupError, run_live, summary
        from orchestrator.rehearsal import Interrupted, run_until_signal

    schedule = _load(args.file)
    overrides = {k: v for k, v in (("state_dir", args.state_dir), ("recordings_dir", args.recordings_dir),
                                   ("media_dir", args.media_dir), ("secrets_file", args.secrets)) if v}  # fmt: skip
    settings = AppSettings(**overrides)
    try:
        snapshot = run_until_signal(
            run_live(
                schedule,
                settings,
                only=set(args.only) if args.only else None,
                dashboard_port=args.dashboard,
                access=access_options(args) if args.dashboard is not None else None,
            )
        )
    except KeyError as exc:
        print(f"{args.file}: {exc.args[0]}", file=sys.stderr)
        return EXIT_INVALID
    except StartupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except (KeyboardInterrupt, Interrupted) as exc:
        code = exc.exit_code if isinstance(exc, Interrupted) else 130
        _say(f"interrupted ({exc or 'SIGINT'}): run the same command again to resume from the journal")
        return code
    result = summary(snapshot)
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["failed"] == 0 else 1


def cmd_emulate(args: argparse.Namespace) -> int:
    """Serve a platform emulator on loopback until interrupted (prints its base URL when ready)."""
    if args.backup_rtmp and not args.rtmp:
        print(f"summit emulate {args.platform}: --backup-rtmp needs --rtmp (the primary ingest)", file=sys.stderr)
        return EXIT_INVALID
    from orchestrator.standins.nginx import RtmpServerError

    try:
        if args.platform == "youtube":
            from orchestrator.standins.emulators.youtube import run_youtube_emulator

            asyncio.run(
                run_youtube_emulator(
                    args.port,
                    args.rtmp,
                    args.client_id,
                    args.client_secret,
                    args.refresh_token,
                    host=args.host,
                    rtmp_stat_url=args.rtmp_stat,
                    backup_rtmp_url=args.backup_rtmp,
                )
            )
        else:
            from orchestrator.standins.emulators.facebook import run_facebook_emulator

            asyncio.run(
                run_facebook_emulator(
                    args.port,
                    args.rtmp,
                    args.page_id,
                    args.page_token,
                    host=args.host,
                    rtmp_stat_url=args.rtmp_stat,
                    backup_rtmp_url=args.backup_rtmp,
                )
            )
    except KeyboardInterrupt:
        pass
    except RtmpServerError as exc:
        print(f"summit emulate {args.platform}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the port is busy, the host not ours
        print(
            f"summit emulate {args.platform}: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return 0


@contextlib.contextmanager
def _imports_without_gc() -> Iterator[None]:
    """Imports allocate a few hundred thousand objects and free almost none: the cyclic collector's
    passes over them are wasted (measured 10-20 % of their CPU). Frozen afterwards, they are left
    out of every later collection as well."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def start_fork_server() -> None:
    """The publishers' fork server, started before the application's imports (about a second): it
    imports its media stack in a process of its own meanwhile, so a restarted run's outputs do not
    wait for it. A failure here is met again, and reported, by the first network output."""
    try:
        multiprocessing.forkserver.set_forkserver_preload(PUBLISHER_PRELOAD)
        multiprocessing.forkserver.ensure_running()
    except OSError as exc:
        _log().debug("fork_server_warm_up_failed", error=str(exc))


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check every destination of a schedule before the event: credentials, scopes, quota, reachability."""
    from orchestrator.platforms.credentials import CredentialStore
    from orchestrator.platforms.doctor import doctor

    schedule = _load(args.file)
    credentials = CredentialStore(args.secrets) if args.secrets else CredentialStore.from_env()
    findings = asyncio.run(
        doctor(
            schedule.destinations,
            credentials=credentials,
            sessions=schedule.sessions,
            event_id=schedule.event.id,
            recordings_dir=Path(args.recordings_dir),
        )
    )
    for f in findings:
        print(f)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    print(f"{args.file}: {len(schedule.destinations)} destinations checked: {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given one of the built-in commands, without the other modules'
    (importing them costs ~0.1 s that a restarted `summit run` need not pay)."""
    from orchestrator.cli_users import add_access_arguments

    parser = argparse.ArgumentParser(prog="summit", description="Run online international conferences end to end.")
    parser.add_argument("--log-format", choices=["console", "json"], default="console")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a schedule file; exit 2 listing every problem")
    p.add_argument("file")
    p.add_argument("--media-dir", help="also look for every clip's file in this folder (missing: a warning)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="print the timeline of actions")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", nargs="+", metavar="SESSION_ID")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("rehearse", help="run the event now, compressed, fully local, and write a report")
    p.add_argument("file")
    p.add_argument(
        "--speed",
        type=_speed,
        default=240.0,
        help=f"how many times faster than real time (default 240, max {MAX_SPEED:g})",
    )
    p.add_argument("--only", nargs="+", metavar="SESSION_ID")
    p.add_argument("--report", metavar="PATH")
    p.add_argument("--run-dir", metavar="DIR", help="where the journal and recordings go (default runs/<event>-<time>)")
    p.add_argument("--media-dir", default="media", help="folder of the clips (demo clips are generated there)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--outputs",
        choices=["auto", "platforms", "files"],
        default="auto",
        help="platforms: real adapters against local YouTube/Facebook emulators and nginx-rtmp (default when "
        "nginx-rtmp is installed); files: every destination recorded to a file",
    )
    p.add_argument(
        "--rtmp",
        type=_rtmp_url,
        metavar="URL",
        help="push every destination to URL/<destination id> on your own server",
    )
    p.add_argument("--dashboard", type=_port, metavar="PORT", help="serve the operators' dashboard on 127.0.0.1:PORT")
    add_access_arguments(p)
    p.add_argument(
        "--participants",
        choices=["bots", "external", "none"],
        default="bots",
        help="bots: every live speaker and interpreter joins as a bot by their link (default); external: wait for "
        "people or a browser to join by <run-dir>/links.json; none: nobody joins",
    )
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("run", help="run the event live on the system clock (resumable: the journal remembers)")
    p.add_argument("file")
    p.add_argument("--only", nargs="+", metavar="SESSION_ID")
    p.add_argument("--state-dir", help="where the journal lives (default state/, env SUMMIT_STATE_DIR)")
    p.add_argument("--recordings-dir", help="file destinations (default recordings/)")
    p.add_argument("--media-dir", help="clips (default media/)")
    p.add_argument("--secrets", help="credentials file (default: SUMMIT_SECRETS_FILE and the environment)")
    p.add_argument("--dashboard", type=_port, metavar="PORT", help="serve the operators' dashboard on 127.0.0.1:PORT")
    add_access_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("emulate", help="serve a local emulator of a platform's live API")
    emu = p.add_subparsers(dest="platform", required=True)
    for name in ("youtube", "facebook"):
        e = emu.add_parser(name, help=f"the {name} live API under its real paths, on loopback")
        e.add_argument("--port", type=_port, default=0, help="0 picks a free port")
        e.add_argument("--host", default="127.0.0.1")
        e.add_argument(
            "--rtmp",
            type=_rtmp_url,
            metavar="URL",
            help="RTMP application ingest URLs point at (default: start nginx-rtmp)",
        )
        e.add_argument(
            "--backup-rtmp",
            type=_rtmp_url,
            metavar="URL",
            help="RTMP application of the backup ingest (default with --rtmp: YouTube a second application "
            "beside it, <app>-backup; Facebook the same one, its backup keys differ; with no --rtmp, the "
            "started nginx-rtmp's own backup application)",
        )
        e.add_argument("--rtmp-stat", metavar="URL", help="nginx-rtmp statistics URL to see media arrive")
        if name == "youtube":
            e.add_argument("--client-id", required=True)
            e.add_argument("--client-secret", required=True)
            e.add_argument("--refresh-token", required=True, action="append", help="one per channel; repeatable")
        else:
            e.add_argument("--page-id", required=True)
            e.add_argument("--page-token", required=True)
        e.set_defaults(func=cmd_emulate)

    p = sub.add_parser("doctor", help="check credentials, scopes, quota and reachability of every destination")
    p.add_argument("file")
    p.add_argument(
        "--secrets", metavar="PATH", help="secrets file (YAML/JSON); default: SUMMIT_SECRETS_FILE and the environment"
    )
    p.add_argument("--recordings-dir", default="recordings")
    p.set_defaults(func=cmd_doctor)

    for module in () if command in _BUILT_IN else _COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


# Each area adds its own sub-commands (`add_commands(sub)`), so the parser above stays readable.
_COMMAND_MODULES: tuple[str, ...] = (
    "orchestrator.cli_users",
    "orchestrator.cli_interchange",
    "orchestrator.cli_control",
    "orchestrator.cli_journal",
    "orchestrator.cli_participants",
)


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named on a command line, found before the parser (and its imports) exist."""
    words = iter(argv)
    for word in words:
        if word in ("--log-format", "--log-level"):
            next(words, None)  # its value
        elif not word.startswith("-"):
            return word
        elif word in ("-h", "--help"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    command = _command_of(sys.argv[1:] if argv is None else argv)
    starting_run = command == "run" and not {"-h", "--help"} & set(sys.argv[1:] if argv is None else argv)
    if starting_run:
        start_fork_server()  # first of all: see start_fork_server
    with _imports_without_gc() if starting_run else contextlib.nullcontext():
        from orchestrator.logconfig import configure_logging
        from orchestrator.redaction import redact_all

        parser = build_parser(command)
    args = parser.parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # `summit plan | head`: the reader has what it wanted. Point stdout at /dev/null so that
        # Python's flush at exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # as a shell reports a process ended by SIGPIPE
    except Exception as exc:
        # Unforeseen: one masked line naming the command (the traceback with --log-level debug).
        _log().debug("command_failed", command=args.command, exc_info=True)
        _say(f"summit {args.command}: failed: {redact_all(f'{type(exc).__name__}: {exc}')}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
