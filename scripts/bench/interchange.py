"""How long the programme takes in and out at conference scale: a synthetic pretalx-style export of
N talks over R parallel rooms (default 2000 talks, 10 rooms, 5 days), parsed, imported with the
example template, exported in each format, and every participant's invitation written.

    python scripts/bench/interchange.py [--talks 2000] [--rooms 10] [--days 5]

Prints one JSON object: seconds per step (process time, so other load on the machine counts less).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.interchange.export import export
from orchestrator.interchange.formats import parse
from orchestrator.interchange.importer import import_programme
from orchestrator.interchange.invite import invitations, write
from orchestrator.interchange.template import load_template
from orchestrator.links import LinkSigner

ROOT = Path(__file__).resolve().parents[2]


def synthetic(talks: int, rooms: int, days: int) -> dict[str, Any]:
    per_room_day = max(1, talks // (rooms * days))
    room_names = [f"Room {chr(65 + r % 26)}{r // 26 or ''}" for r in range(rooms)]
    out_days = []
    n = 0
    for d in range(days):
        day = datetime.fromisoformat("2026-06-01T08:00:00+09:00") + timedelta(days=d)
        by_room: dict[str, list[dict[str, Any]]] = {}
        for room in room_names:
            events = []
            for k in range(per_room_day):
                n += 1
                start = day + timedelta(minutes=35 * k)
                events.append({
                    "id": n, "guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{n}")), "date": start.isoformat(),
                    "start": f"{start:%H:%M}", "duration": "00:30", "room": room, "slug": f"bench-{n}",
                    "title": f"Talk {n}", "subtitle": "", "track": None, "type": "Talk", "language": "en",
                    "abstract": "An abstract.", "persons": [{"id": 1 + n % 700, "public_name": f"Person {1 + n % 700}"}],
                    "links": [], "url": f"https://example.org/{n}",
                })  # fmt: skip
            by_room[room] = events
        out_days.append({"index": d + 1, "date": f"{day:%Y-%m-%d}", "day_start": day.isoformat(),
                         "day_end": (day + timedelta(hours=16)).isoformat(), "rooms": by_room})  # fmt: skip
    conf = {"acronym": "bench", "title": "Bench", "start": out_days[0]["date"], "end": out_days[-1]["date"],
            "daysCount": days, "timeslot_duration": "00:05", "time_zone_name": "Asia/Seoul", "days": out_days}  # fmt: skip
    return {"schedule": {"version": "1", "conference": conf}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--talks", type=int, default=2000)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--days", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        template = tmp_path / "template.yaml"
        template.write_text(
            "languages: [en, ko]\nevent: {max_session: 2h}\n"
            "destinations: [{id: 'rec-{room}-{language}', kind: file, language: '{language}'}]\n"
            "interpreters: [{id: i1, name: Interpreter, languages: [en, ko]}]\n"
            "booths: [{id: 'en-ko-{room}', languages: [en, ko], interpreters: [i1]}]\n"
            "session: {opening: {text: '{title}', duration: 30s}}\n"
        )
        data = json.dumps(synthetic(args.talks, args.rooms, args.days)).encode()
        result: dict[str, Any] = {"talks": args.talks, "rooms": args.rooms, "export_kib": len(data) // 1024}
        t = time.process_time()
        programme = parse(data, "schedule-json", "bench.json")
        result["parse_s"] = round(time.process_time() - t, 3)
        t = time.process_time()
        text, schedule = import_programme(programme, load_template(template), "bench.json")
        result["import_s"] = round(time.process_time() - t, 3)
        result["sessions"] = len(schedule.sessions)
        result["schedule_yaml_kib"] = len(text) // 1024
        for fmt in ("frab-xml", "schedule-json", "ics"):
            t = time.process_time()
            blob = export(schedule, fmt)  # type: ignore[arg-type]
            result[f"export_{fmt}_s"] = round(time.process_time() - t, 3)
            result[f"export_{fmt}_kib"] = len(blob) // 1024
        t = time.process_time()
        invites = invitations(
            schedule, LinkSigner("bench-secret-0123456789abcdef", schedule.event.id), "https://x.example"
        )
        write(invites, tmp_path / "invites")
        result["invite_s"] = round(time.process_time() - t, 3)
        result["people"] = len(invites)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
