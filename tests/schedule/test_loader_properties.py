"""Properties of the loader on generated input (Hypothesis):

- for any plain data, our one-parse builder gives what `yaml.safe_load` gives (anchors included);
- for any text at all, and any schedule with generated times, durations and fields, loading ends in
  a Schedule or a ScheduleError whose every problem names the file — never another exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.schedule.loader import ScheduleError, parse_schedule_text, parse_yaml

BASE = (Path(__file__).resolve().parents[1] / "data" / "two-sessions.yaml").read_text(encoding="utf-8")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=20),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)),
)
plain = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain)
def test_the_builder_reads_plain_data_as_pyyaml_does(data: object) -> None:
    text = yaml.safe_dump({"root": data}, allow_unicode=True)
    doc = parse_yaml(text, "gen.yaml")
    assert doc is not None and doc.data == yaml.safe_load(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4), plain)
def test_shared_anchors_read_as_pyyaml_does(keys: list[str], value: object) -> None:
    text = yaml.safe_dump({k: [value, value] for k in keys})  # PyYAML writes the repeats as aliases
    doc = parse_yaml(text, "gen.yaml")
    assert doc is not None and doc.data == yaml.safe_load(text)


def _loads_or_refuses(text: str) -> None:
    try:
        parse_schedule_text(text, "gen.yaml")
    except ScheduleError as err:
        assert err.problems and all(p.file == "gen.yaml" for p in err.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_is_refused_clearly(text: str) -> None:
    _loads_or_refuses(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200).map(lambda b: BASE[:200] + b.decode("latin-1") + BASE[200:]))
def test_a_schedule_with_noise_loads_or_is_refused_clearly(text: str) -> None:
    _loads_or_refuses(text)


field_values = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30).map(lambda t: repr(t)),
    st.sampled_from(["1e400", ".inf", "-.inf", ".nan", "~", "[]", "{}", "99999999999h", "P1D", "0s", "-1m"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "duration: 2m}",
            "duration: 10m}",
            "start: 2020-06-03T10:00:00+09:00",
            "end: 2020-06-03T11:00:00+09:00",
            "duration: 20m, language: en}",
            "days: [2020-06-03]",
            "max_session: 90m",
            "languages: [ko, en]",
            "outputs: [rec-ko, rec-en]",
            "path: test-two/bowles-talk.mp4",
        ]
    ),
    field_values,
)
def test_any_value_in_any_field_loads_or_is_refused_clearly(field: str, value: object) -> None:
    name = field.split(":", 1)[0]
    tail = "}" if field.endswith("}") else ""
    _loads_or_refuses(BASE.replace(field, f"{name}: {value}{tail}", 1))


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(3100, 1, 1)),
    st.integers(min_value=-48 * 60, max_value=48 * 60),
    st.integers(min_value=-1440, max_value=1440),
)
def test_generated_session_times_load_or_are_refused_clearly(start: datetime, minutes: int, offset: int) -> None:
    sign = "-" if offset < 0 else "+"
    tz = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    try:
        end = start + timedelta(minutes=minutes)
    except OverflowError:
        return
    text = BASE.replace("2020-06-03T10:00:00+09:00", f"{start:%Y-%m-%dT%H:%M:%S}{tz}", 1).replace(
        "2020-06-03T11:00:00+09:00", f"{end:%Y-%m-%dT%H:%M:%S}{tz}", 1
    )
    _loads_or_refuses(text)
