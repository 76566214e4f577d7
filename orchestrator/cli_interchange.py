"""`summit import`, `summit invite`, `summit export`: the programme in from pretalx/frab, out to people and websites."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError

from orchestrator.interchange.export import EXPORT_FORMATS, export
from orchestrator.interchange.formats import FORMATS, InterchangeError, parse
from orchestrator.interchange.importer import import_programme
from orchestrator.interchange.invite import DEFAULT_CHECK_LEAD, DEFAULT_CHECK_LENGTH, invitations, write
from orchestrator.interchange.source import read_source
from orchestrator.interchange.template import TemplateError, load_template
from orchestrator.links import LinkSigner
from orchestrator.linksecret import LinkSecretError, load_link_secret
from orchestrator.schedule.loader import ScheduleError, load_schedule, schedule_warnings
from orchestrator.schedule.model import Duration, Schedule

log = structlog.get_logger(__name__)

EXIT_INVALID = 2


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_INVALID


def _load(path: str) -> Schedule | None:
    try:
        return load_schedule(path)
    except ScheduleError as exc:
        print(str(exc), file=sys.stderr)
        return None


def _duration(text: str) -> Any:
    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (write e.g. 45m, 1h30m)") from None


def cmd_import(args: argparse.Namespace) -> int:
    out = Path(args.output)
    try:
        template = load_template(args.template)
        data, name = read_source(args.source)
        programme = parse(data, args.format, name)
        text, schedule = import_programme(programme, template, name)
    except (InterchangeError, TemplateError) as exc:
        return _fail(str(exc))
    except ScheduleError as exc:  # the import built something validate refuses: a bug of ours, said plainly
        return _fail(f"{args.source}: the imported schedule does not validate:\n{exc}")
    before: set[str] = set()
    if out.exists():
        try:
            before = {s.id for s in load_schedule(out).sessions}
        except ScheduleError:
            before = set()
    header = (
        f"# Imported by `summit import` from {name} ({args.format}) with the template {args.template}.\n"
        "# Edit the template and import again rather than editing this file: session ids stay the same.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + text, encoding="utf-8")
    now = {s.id for s in schedule.sessions}
    rooms = {s.venue for s in schedule.sessions}
    log.info("programme_imported", source=name, output=str(out), sessions=len(now))
    summary = (
        f"{name} → {out}: {schedule.event.id}: {len(now)} sessions in {len(rooms)} room(s), "
        f"{len(schedule.speakers)} speakers, {len(schedule.destinations)} destinations; it validates"
    )
    warnings = schedule_warnings(schedule)
    if warnings:
        summary += f" with {len(warnings)} warning(s) (`summit validate {out}` lists them)"
    if before:
        summary += f"; {len(now & before)} sessions kept their ids, {len(now - before)} new, {len(before - now)} gone"
    print(summary)
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    schedule = _load(args.file)
    if schedule is None:
        return EXIT_INVALID
    if not args.base_url.startswith(("https://", "http://")):
        return _fail(f"--base-url {args.base_url!r} is not an http(s) URL (the join pages' address)")
    try:
        signer = LinkSigner(load_link_secret(args.link_secret_file).get_secret_value(), schedule.event.id)
    except LinkSecretError as exc:
        return _fail(f"summit invite: {exc}")
    invites = invitations(schedule, signer, args.base_url, check_lead=args.check_lead, check_length=args.check_length)
    if not invites:
        return _fail(f"{args.file}: nobody to invite (no speaker appears in a rundown, no booth is on duty)")
    out = Path(args.output)
    try:
        write(invites, out)
    except OSError as exc:
        return _fail(f"summit invite: cannot write to {out} ({exc.strerror})")
    with_links = sum(1 for i in invites if i.link)
    # Never the links themselves: they are in the files only.
    log.info("invitations_written", event_id=schedule.event.id, people=len(invites), dir=str(out))
    print(
        f"{out}: invitations for {len(invites)} people ({with_links} with a personal join link): "
        "<id>.ics, <id>.txt and <id>.html each, listed in people.csv; they hold personal links, so send each only to its person"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    schedule = _load(args.file)
    if schedule is None:
        return EXIT_INVALID
    data = export(schedule, args.format)
    if args.output in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"{args.file} → {out}: {len(schedule.sessions)} sessions as {args.format}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("import", help="make a schedule from a pretalx/frab export and a template")
    p.add_argument("source", help="the export: a file, or an http(s) URL")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--template", required=True, metavar="TEMPLATE.yaml", help="destinations, booths, clips, limits")
    p.add_argument("-o", "--output", required=True, metavar="SCHEDULE.yaml")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("invite", help="write each speaker's and interpreter's calendar and message")
    p.add_argument("file")
    p.add_argument("--base-url", required=True, metavar="URL", help="where the join pages are served")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--link-secret-file", metavar="PATH", help="the join-link secret (default: $SUMMIT_LINK_SECRET)")
    p.add_argument("--check-lead", type=_duration, default=DEFAULT_CHECK_LEAD, metavar="DURATION",
                   help="technical check this long before each session (default 45m)")  # fmt: skip
    p.add_argument("--check-length", type=_duration, default=DEFAULT_CHECK_LENGTH, metavar="DURATION",
                   help="how long the check lasts (default 15m)")  # fmt: skip
    p.set_defaults(func=cmd_invite)

    p = sub.add_parser("export", help="the programme for websites and apps (frab XML, schedule JSON, iCalendar)")
    p.add_argument("file")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("-o", "--output", metavar="PATH", help="default: standard output")
    p.set_defaults(func=cmd_export)
