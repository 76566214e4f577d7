"""plan(schedule) → every action the event needs, in order, each with a stable id (pure core).

For each session S (on air at T, off air at E) and each destination D carrying it:
  S/prepare      T−30 min   check the session's media
  S/D/prepare    T−30 min   create or find the broadcast on D, fetch its ingest (new key per session)
  S/standby      T−10 min   the programme starts, on the stand-by slate with a countdown
  S/D/standby    T−10 min   D takes the programme — or, if D still carries the previous session,
                            at that session's end (the handover)
  S/go_live      T          the session is on air
  S/D/go_live    T          D goes live
  S/cue/NN-…     T+offset   each rundown segment takes the programme
  S/D/end        E          D's output ends, the broadcast completes
  S/end          E          the programme stops
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from orchestrator.planning.actions import Action, ActionKind, action_id
from orchestrator.planning.cues import (
    AudioKind,
    AudioSource,
    Cue,
    CueSheet,
    InterpretationFeed,
    Slate,
    VideoKind,
    VideoSource,
)
from orchestrator.schedule.checks import segment_duration, segment_language
from orchestrator.schedule.model import (
    BreakSegment,
    ClipSegment,
    RemoteSegment,
    Schedule,
    Segment,
    Session,
    SlateSegment,
    StudioSegment,
)


@dataclass(frozen=True)
class PlanSettings:
    prepare_lead: timedelta = timedelta(minutes=30)
    standby_lead: timedelta = timedelta(minutes=10)
    media_root: str = "media"  # clip paths in the schedule are relative to this


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    cue_sheets: dict[str, CueSheet] = field(default_factory=dict)

    def action(self, action_id: str) -> Action:
        return next(a for a in self.actions if a.id == action_id)

    def for_session(self, session_id: str) -> list[Action]:
        return [a for a in self.actions if a.session == session_id]

    def to_json(self) -> dict[str, object]:
        return {"actions": [a.to_json() for a in self.actions]}


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC)


def plan(schedule: Schedule, settings: PlanSettings | None = None, only: set[str] | None = None) -> Plan:
    settings = settings or PlanSettings()
    sessions = sorted(schedule.sessions, key=lambda s: s.start)
    if only:
        unknown = only - {s.id for s in sessions}
        if unknown:
            raise KeyError(f"no session with id {', '.join(sorted(unknown))} in event '{schedule.event.id}'")
        sessions = [s for s in sessions if s.id in only]

    actions: list[Action] = []
    cue_sheets: dict[str, CueSheet] = {}
    last_end_on: dict[str, tuple[datetime, str]] = {}  # destination → (end of the session it carries, end action id)

    for session in sessions:
        sid = session.id
        start, end = _utc(session.start), _utc(session.end)
        cue_sheet = session_cue_sheet(schedule, session, settings)
        cue_sheets[sid] = cue_sheet
        prepare_at = start - settings.prepare_lead
        standby_at = start - settings.standby_lead
        K = ActionKind

        def sid_(kind: ActionKind, did: str | None = None, *, _sid: str = sid) -> str:
            return action_id(kind, _sid, did)

        actions.append(Action(sid_(K.PREPARE_MEDIA), K.PREPARE_MEDIA, sid, prepare_at, label="check media"))
        actions.append(
            Action(
                sid_(K.START_PROGRAMME),
                K.START_PROGRAMME,
                sid,
                standby_at,
                after=(sid_(K.PREPARE_MEDIA),),
                label="stand-by slate",
            )
        )
        actions.append(Action(sid_(K.ON_AIR), K.ON_AIR, sid, start, after=(sid_(K.START_PROGRAMME),), label="on air"))
        for cue in cue_sheet.cues:
            actions.append(
                Action(cue.id, K.CUE, sid, _utc(cue.at), after=(sid_(K.START_PROGRAMME),), cue=cue, label=cue.label)
            )

        dest_ends: list[str] = []
        for did in session.outputs:
            dest = schedule.destination(did)
            actions.append(
                Action(
                    sid_(K.PREPARE_BROADCAST, did),
                    K.PREPARE_BROADCAST,
                    sid,
                    prepare_at,
                    destination=did,
                    label=f"prepare {dest.kind}",
                )
            )
            after = [sid_(K.START_PROGRAMME), sid_(K.PREPARE_BROADCAST, did)]
            take_at = standby_at
            previous = last_end_on.get(did)
            if previous is not None:
                prev_end, prev_end_action = previous
                after.append(prev_end_action)
                take_at = max(take_at, prev_end)
            actions.append(
                Action(
                    sid_(K.ATTACH_OUTPUT, did),
                    K.ATTACH_OUTPUT,
                    sid,
                    take_at,
                    destination=did,
                    after=tuple(after),
                    label="take programme",
                )
            )
            actions.append(
                Action(
                    sid_(K.GO_LIVE, did),
                    K.GO_LIVE,
                    sid,
                    start,
                    destination=did,
                    after=(sid_(K.ATTACH_OUTPUT, did), sid_(K.ON_AIR)),
                    label="go live",
                )
            )
            actions.append(
                Action(
                    sid_(K.END_BROADCAST, did),
                    K.END_BROADCAST,
                    sid,
                    end,
                    destination=did,
                    after=(sid_(K.GO_LIVE, did),),
                    label="end broadcast",
                )
            )
            dest_ends.append(sid_(K.END_BROADCAST, did))
            last_end_on[did] = (end, sid_(K.END_BROADCAST, did))
        actions.append(
            Action(sid_(K.STOP_PROGRAMME), K.STOP_PROGRAMME, sid, end, after=tuple(dest_ends), label="programme off")
        )

    actions.sort(key=Action.sort_key)
    repeated = sorted(i for i, n in Counter(a.id for a in actions).items() if n > 1)
    if repeated:  # ids key the journal and the platforms' idempotency: they must be unique
        raise ValueError(f"the plan of event '{schedule.event.id}' has repeated action ids: {', '.join(repeated)}")
    return Plan(tuple(actions), cue_sheets)


# ---------------------------------------------------------------------------------------------
# Rundown → programme cues


def _who(schedule: Schedule, speaker_id: str | None) -> tuple[str, str]:
    if speaker_id is None:
        return "", ""
    sp = schedule.speaker(speaker_id)
    line = ", ".join(x for x in (sp.role, sp.city) if x)
    return sp.name + (f" ({sp.name_local})" if sp.name_local else ""), line


def _segment_speaker(seg: Segment) -> str | None:
    if isinstance(seg, StudioSegment):
        return seg.speaker or next(iter(seg.speakers), None)
    if isinstance(seg, (RemoteSegment, ClipSegment)):
        return seg.speaker
    return None


def _clip_path(schedule: Schedule, clip_id: str, settings: PlanSettings) -> str:
    return posixpath.join(settings.media_root, schedule.clip(clip_id).path)


def _video(schedule: Schedule, session: Session, seg: Segment, settings: PlanSettings, title: str) -> VideoSource:
    name, line = _who(schedule, _segment_speaker(seg))
    if isinstance(seg, SlateSegment):
        return VideoSource(VideoKind.SLATE, slate=Slate(title, seg.text or "", ""))
    if isinstance(seg, BreakSegment):
        return VideoSource(VideoKind.SLATE, slate=Slate(title, seg.title or "", "Break — we will be back shortly"))
    card = Slate(name or title, line, seg.title or "")
    if isinstance(seg, ClipSegment):
        offset = (seg.offset or timedelta(0)).total_seconds()
        return VideoSource(
            VideoKind.CLIP,
            slate=card,
            clip_path=_clip_path(schedule, seg.clip, settings),
            clip_offset_s=offset,
            speaker_id=seg.speaker,
        )
    if isinstance(seg, RemoteSegment):
        sp = schedule.speaker(seg.speaker)
        backup = (
            VideoSource(
                VideoKind.CLIP, slate=card, clip_path=_clip_path(schedule, sp.backup_clip, settings), speaker_id=sp.id
            )
            if sp.backup_clip
            else None
        )
        return VideoSource(
            VideoKind.REMOTE, slate=card, speaker_id=sp.id, backup=backup, return_to_live=seg.return_to_live
        )
    return VideoSource(VideoKind.STUDIO, slate=card, url=schedule.event.studio_feed, speaker_id=_segment_speaker(seg))


def _audio(
    schedule: Schedule, session: Session, spoken: str | None, languages: list[str], settings: PlanSettings
) -> dict[str, AudioSource]:
    audio: dict[str, AudioSource] = {}
    for lang in languages:
        if spoken is None or spoken == lang:
            audio[lang] = AudioSource(AudioKind.FLOOR)
            continue
        booth = next(
            (schedule.booth(b) for b in session.booths if set(schedule.booth(b).languages) == {spoken, lang}), None
        )
        if booth is None:  # the checks refuse such a schedule; keep the plan total anyway
            audio[lang] = AudioSource(AudioKind.SILENCE)
            continue
        spec = booth.rehearsal_feed
        feed = InterpretationFeed(
            spec.kind,
            tone_hz=spec.tone_hz,
            clip_path=_clip_path(schedule, spec.clip, settings) if spec.clip else None,
        )
        audio[lang] = AudioSource(
            AudioKind.INTERPRETATION, booth_id=booth.id, from_language=spoken, feed=feed, on_silence=booth.on_silence
        )
    return audio


def session_cue_sheet(schedule: Schedule, session: Session, settings: PlanSettings | None = None) -> CueSheet:
    settings = settings or PlanSettings()
    languages = schedule.output_languages(session)
    title = session.title.get("en", session.floor_language)
    other = session.title.get(session.floor_language, "en")
    subtitle = other if other != title else ""
    cues: list[Cue] = []
    at = _utc(session.start)
    for i, seg in enumerate(session.rundown):
        name = seg.id or f"{i + 1:02d}-{seg.kind}"
        cue_id = action_id(ActionKind.CUE, session.id, cue=name)
        spoken = segment_language(schedule, session, seg)
        speaker = _segment_speaker(seg)
        label = seg.title or (f"{seg.kind}: {schedule.speaker(speaker).name}" if speaker else seg.kind)
        cues.append(
            Cue(
                id=cue_id,
                at=at,
                segment_id=name,
                label=label,
                video=_video(schedule, session, seg, settings, title),
                audio=_audio(schedule, session, spoken, languages, settings),
                spoken_language=spoken,
                fade_s=seg.fade_ms / 1000 if seg.transition == "fade" else 0.0,
            )
        )
        length = segment_duration(schedule, seg)
        at = at + (length or timedelta(0))
    if at < _utc(session.end):
        # The rundown ends early: a closing card holds the programme until the session's end.
        taken = {c.segment_id for c in cues}
        name = next(
            n for n in ("closing", "closing-card", *(f"closing-card-{i}" for i in range(2, 99))) if n not in taken
        )
        cues.append(
            Cue(
                id=action_id(ActionKind.CUE, session.id, cue=name),
                at=at,
                segment_id=name,
                label="closing card",
                video=VideoSource(VideoKind.SLATE, slate=Slate(title, subtitle, "Thank you for watching")),
                audio=_audio(schedule, session, None, languages, settings),
            )
        )
    return CueSheet(
        session_id=session.id,
        title=title,
        start=_utc(session.start),
        end=_utc(session.end),
        languages=tuple(languages),
        standby=Slate(title, subtitle, "Please stand by — starting soon", countdown_to=_utc(session.start)),
        cues=tuple(cues),
    )
