"""`summit links FILE`: everyone's personal join link for a live event (speakers and interpreters).

    summit links schedules/cac-2020.yaml --base-url https://summit.example.org [--json]
    summit links FILE --journal run/journal.sqlite --revoke diamond   # withdraw a person's links

The secret comes from $SUMMIT_LINK_SECRET or `link_secret` in the secrets file; revocations are kept
in the run's journal, so give the live run's journal to print links that still work after one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orchestrator.clock import SystemClock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.links import LinkSigner
from orchestrator.linksecret import LinkSecretError, load_link_secret
from orchestrator.participants.book import LinkBook
from orchestrator.schedule.loader import ScheduleError, load_schedule
from orchestrator.schedule.model import Schedule

EXIT_INVALID = 2


def add_commands(sub: Any) -> None:
    p = sub.add_parser("links", help="print every speaker's and interpreter's personal join link")
    p.add_argument("file", help="the schedule")
    p.add_argument("--base-url", default="http://127.0.0.1:8765", help="where the dashboard's server is reached")
    p.add_argument("--json", action="store_true", help="a JSON list of {person, role, name, url, expires}")
    p.add_argument("--link-secret-file", metavar="PATH", help="the secrets file holding link_secret")
    p.add_argument("--journal", metavar="PATH", help="the live run's journal (where revocations are kept)")
    p.add_argument("--revoke", metavar="PERSON", help="withdraw this person's links (needs --journal), then print")
    p.set_defaults(func=cmd_links)


def cmd_links(args: argparse.Namespace) -> int:
    try:
        secret = load_link_secret(args.link_secret_file)
    except LinkSecretError as exc:
        print(f"summit links: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        schedule: Schedule = load_schedule(args.file)
    except ScheduleError as exc:  # its message names the file and the line
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    if args.revoke and not args.journal:
        print("summit links: --revoke needs --journal (revocations are kept in the run's journal)", file=sys.stderr)
        return EXIT_INVALID
    journal = SqliteJournal(Path(args.journal) if args.journal else ":memory:")
    try:
        book = LinkBook(schedule, LinkSigner(secret.get_secret_value(), schedule.event.id), journal, SystemClock())
        if args.revoke:
            if args.revoke not in {p.id for p, _ in book.links()}:
                print(f"summit links: '{args.revoke}' has no link in {args.file}", file=sys.stderr)
                return EXIT_INVALID
            book.revoke(args.revoke)
        rows = [
            {
                "person": person.id,
                "role": person.role,
                "name": person.name,
                "url": link.url(args.base_url),
                "expires": link.claims.expires.isoformat(),
            }
            for person, link in book.links()
        ]
    finally:
        journal.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            print(f"{row['person']:<24} {row['role']:<12} {row['name']:<32} {row['url']}")
    return 0
