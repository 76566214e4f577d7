from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA

HERE = DATA / "interchange"
PRETALX = HERE / "pretalx-democon.json"
FRAB = HERE / "frab-small.xml"
FORUM_TEMPLATE = HERE / "template-forum.yaml"
XSD = HERE / "schedule.xml.xsd"
JSON_SCHEMA = HERE / "schema.json"
ROOT = DATA.parent.parent
EXAMPLE_TEMPLATE = ROOT / "schedules" / "templates" / "example.yaml"


def pretalx_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PRETALX.read_text())
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "s3cr3t-link-key-for-tests-only-0123456789"
    monkeypatch.setenv("SUMMIT_LINK_SECRET", secret)
    return secret
