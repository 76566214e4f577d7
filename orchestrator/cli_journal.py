"""`summit journal STATE` (what a run did, from its journal) and `summit reload FILE` (an edited
schedule checked, diffed and applied to a running `summit run`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import unicodedata
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp

from orchestrator.engine.journal import SqliteJournal

EXIT_INVALID = 2


def add_commands(sub: Any) -> None:
    p = sub.add_parser("journal", help="show what a run did: actions and their attempts, states, overrides, alerts")
    p.add_argument("state", metavar="STATE", help="a journal file (<event>.sqlite) or the state folder holding it")
    p.add_argument("--event", help="the event id, when the state folder holds several journals")
    p.add_argument("--json", action="store_true", help="everything, as one JSON document")
    p.set_defaults(func=cmd_journal)

    p = sub.add_parser("reload", help="apply an edited schedule to a running `summit run` (shows the diff first)")
    p.add_argument("file")
    p.add_argument("--state-dir", default=None, help="the run's state folder (default state/, env SUMMIT_STATE_DIR)")
    p.add_argument("--dry-run", action="store_true", help="show the diff and what would be refused; change nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reload)


# ---------------------------------------------------------------------------------- journal


def _journal_path(state: Path, event: str | None) -> Path:
    if state.is_file():
        return state
    if not state.is_dir():
        raise LookupError(f"{state}: no such journal file or state folder")
    if event:
        path = state / f"{event}.sqlite"
        if not path.is_file():
            raise LookupError(f"{state}: no journal for event '{event}' ({path.name} is missing)")
        return path
    found = sorted(state.glob("*.sqlite"))
    if not found:
        raise LookupError(f"{state}: no journal (*.sqlite) in this folder")
    if len(found) > 1:
        names = ", ".join(p.stem for p in found)
        raise LookupError(f"{state}: journals of several events ({names}): name one with --event")
    return found[0]


def journal_document(journal: SqliteJournal) -> dict[str, Any]:
    attempts = journal.attempts()
    tries: dict[str, int] = {}
    for a in attempts:
        tries[a.action] = tries.get(a.action, 0) + 1
    return {
        "journal": journal.path,
        "actions": [{**asdict(r), "attempts": tries.get(r.id, 0)} for r in journal.actions()],
        "interrupted": [asdict(a) for a in journal.interrupted()],
        "attempts": [asdict(a) for a in attempts],
        "states": {s: [{"state": st, "at": at} for st, at in rows] for s, rows in journal.states().items()},
        "overrides": [asdict(o) for o in journal.overrides()],
        "alerts": [asdict(a) for a in journal.alerts()],
        "messages": [asdict(m) for m in journal.messages()],
    }


def _printable(text: str) -> str:
    """Participants' text on a terminal: control characters (escape sequences, newlines) shown as
    escapes, never obeyed."""
    return "".join(c if unicodedata.category(c)[0] != "C" else c.encode("unicode_escape").decode() for c in text)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]


def _print_document(doc: dict[str, Any]) -> None:
    out: list[str] = [f"journal {doc['journal']}", ""]
    rows = [
        [a["id"], a["kind"], a["outcome"], a["scheduled"][11:19], (a["executed"] or "")[11:23],
         "" if a["error_ms"] is None else f"{a['error_ms']:.0f}", str(a["attempts"]),
         str(a["detail"].get("error") or a["detail"].get("why") or "")[:80]]
        for a in doc["actions"]
    ]  # fmt: skip
    out += _table(rows, ["action", "kind", "outcome", "due", "executed", "late ms", "tries", "note"])
    counts: dict[str, int] = {}
    for a in doc["actions"]:
        counts[a["outcome"]] = counts.get(a["outcome"], 0) + 1
    out.append(f"{len(doc['actions'])} actions: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if doc["interrupted"]:
        out += ["", "interrupted (begun, never finished: the process died; retried on the next start):"]
        out += [f"  {a['action']}  begun {a['started']}" for a in doc["interrupted"]]
    out += ["", "session states:"]
    for sid, states in doc["states"].items():
        out.append(f"  {sid}: " + " → ".join(f"{s['state']} {s['at'][11:19]}" for s in states))
    if doc["overrides"]:
        out += ["", "overrides:"]
        out += _table(
            [
                [
                    o["at"][11:19],
                    o["who"],
                    o["command"],
                    o["session"] or "",
                    json.dumps(o["args"], ensure_ascii=False),
                    o["outcome"],
                    _printable(o["detail"] or ""),
                ]
                for o in doc["overrides"]
            ],
            ["at", "who", "command", "session", "args", "outcome", "detail"],
        )
    if doc["alerts"]:
        out += ["", "alerts:"]
        out += [f"  {a['at'][11:19]} {a['level']:<7} {_printable(a['message'])}" for a in doc["alerts"]]
    if doc["messages"]:
        out += ["", "text channel:"]
        for m in doc["messages"]:
            thread = f"booth {m['booth']}" if m["booth"] else m["person"] or ""
            sender = m["sender"] or m["origin"]
            out.append(f"  {m['at'][11:19]} [{_printable(thread)}] {_printable(sender)}: {_printable(m['text'])}")
    print("\n".join(out))


def cmd_journal(args: argparse.Namespace) -> int:
    try:
        path = _journal_path(Path(args.state), args.event)
        journal = SqliteJournal(path)
    except (LookupError, sqlite3.Error, OSError) as err:
        print(f"summit journal: {err}", file=sys.stderr)
        return EXIT_INVALID
    try:
        doc = journal_document(journal)
    finally:
        journal.close()
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_document(doc)
    return 0


# ---------------------------------------------------------------------------------- reload


def cmd_reload(args: argparse.Namespace) -> int:
    from orchestrator.app import CONTROL_TOKEN_HEADER, AppSettings, control_file, read_control
    from orchestrator.cli import _load
    from orchestrator.planning.plan import PlanSettings, plan

    schedule = _load(args.file)  # exits 2 listing every problem: nothing is sent
    settings = AppSettings(**({"state_dir": args.state_dir} if args.state_dir else {}))
    try:
        plan(schedule, PlanSettings(media_root=str(settings.media_dir)))
    except KeyError as exc:
        print(f"{args.file}: {exc.args[0]}", file=sys.stderr)
        return EXIT_INVALID
    path = control_file(settings, schedule.event.id)
    address = read_control(path)
    if address is None:
        print(f"summit reload: no run of event '{schedule.event.id}' is listening ({path} is missing)", file=sys.stderr)
        return 1
    text = Path(args.file).read_text(encoding="utf-8")
    body = {"schedule": text, "file": args.file, "dry_run": args.dry_run}
    try:
        status, answer = asyncio.run(_post(f"{address.url}/reload", body, {CONTROL_TOKEN_HEADER: address.token}))
    except (aiohttp.ClientError, OSError, TimeoutError):
        print(
            f"summit reload: the run of event '{schedule.event.id}' does not answer at {address.url} "
            f"({path} may be left from a run that was killed)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    elif "error" in answer:
        print(f"summit reload: {answer['error']}", file=sys.stderr)
    else:
        for line in answer["lines"] or ["(no change)"]:
            print(line)
        for reason in answer["refused"]:
            print(f"refused: {reason}", file=sys.stderr)
        verdict = (
            "checked (dry run), not applied" if answer["dry_run"] else "applied" if answer["applied"] else "NOT applied"
        )
        print(f"{args.file}: {len(answer['lines'])} change(s), {verdict}")
    if status == 200:
        return 0
    return EXIT_INVALID if status in (409, 422) else 1


async def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()
