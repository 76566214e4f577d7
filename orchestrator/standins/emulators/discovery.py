"""The YouTube Data API v3 discovery document as a request validator for the emulator.

The emulator ships a copy of Google's discovery document (`youtube.v3.json`, the contract) and
checks every request against it at runtime: the route (HTTP method + path), query parameters
(unknown names, required ones, types, enums, ranges, `part` values) and the JSON body (field names,
types and enum values of the request schema). A request that does not match is answered with the
error body the real API gives, so a client that passes here does not fail on the wire later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


class GoogleApiError(Exception):
    """An error answered in Google's JSON error shape:
    `{"error": {"code", "message", "errors": [{"message", "domain", "reason", ...}], "status"}}`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.code in _STATUS_TEXT:
            error["status"] = _STATUS_TEXT[self.code]
        return {"error": error}


def bad_parameter(name: str, message: str, reason: str = "invalidParameter") -> GoogleApiError:
    return GoogleApiError(400, reason, message, location=name, location_type="parameter")


@dataclass(frozen=True)
class Method:
    id: str  # "youtube.liveBroadcasts.insert"
    http_method: str
    path: str  # "youtube/v3/liveBroadcasts"
    parameters: Mapping[str, Mapping[str, Any]]
    request_ref: str | None
    response_ref: str | None
    scopes: tuple[str, ...]
    parts: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        """ "liveBroadcasts.insert" — the id without the API prefix."""
        return self.id.split(".", 1)[1]


_PART_LIST = re.compile(r"(?:parameter value are|can include in the parameter value are)\s+(.+?)\.(?:\s|$)")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


class Discovery:
    """A loaded discovery document: routes, parameter and body validation, partial responses."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.schemas: Mapping[str, Any] = doc["schemas"]
        self.global_params: Mapping[str, Any] = doc.get("parameters", {})
        self.root_url: str = doc["rootUrl"]
        self._methods: dict[tuple[str, str], Method] = {}
        self._by_id: dict[str, Method] = {}
        self._paths: set[str] = set()
        for resource in doc["resources"].values():
            self._collect(resource)

    @classmethod
    def load(cls, path: Path | str | None = None) -> Discovery:
        """The document shipped in this package, or one at `path`."""
        if path is not None:
            return cls(json.loads(Path(path).read_text()))
        return _packaged()

    def _collect(self, resource: Mapping[str, Any]) -> None:
        for mid, spec in resource.get("methods", {}).items():
            del mid
            method = Method(
                id=spec["id"],
                http_method=spec["httpMethod"],
                path=spec["path"],
                parameters=spec.get("parameters", {}),
                request_ref=(spec.get("request") or {}).get("$ref"),
                response_ref=(spec.get("response") or {}).get("$ref"),
                scopes=tuple(spec.get("scopes", ())),
            )
            method = replace(method, parts=self._parts_of(method))
            self._methods[(method.http_method, method.path)] = method
            self._by_id[method.id] = method
            self._paths.add(method.path)
        for sub in resource.get("resources", {}).values():
            self._collect(sub)

    def _parts_of(self, method: Method) -> frozenset[str]:
        """Allowed `part` names: those the parameter's description lists, plus the resource's
        top-level object properties (the real API accepts e.g. liveStreams part=contentDetails
        although one description omits it)."""
        part = method.parameters.get("part")
        if not part:
            return frozenset()
        names = {"id"}
        m = _PART_LIST.search(part.get("description", ""))
        if m:
            for word in re.split(r",\s*|\s+and\s+", m.group(1)):
                word = word.strip().removeprefix("and ").strip()
                if word:
                    names.add(_camel(word))
        resource = self._resource_schema(method)
        if resource:
            for prop, spec in self.schemas[resource].get("properties", {}).items():
                if "$ref" in spec:
                    names.add(prop)
        return frozenset(names)

    def _resource_schema(self, method: Method) -> str | None:
        ref = method.request_ref or method.response_ref
        if ref is None:
            return None
        items = self.schemas.get(ref, {}).get("properties", {}).get("items", {})
        if ref.endswith("ListResponse") and "$ref" in items.get("items", {}):
            return str(items["items"]["$ref"])
        return ref

    # -- routing -----------------------------------------------------------------------------

    def route(self, http_method: str, path: str) -> Method | None:
        """The method served at `path` (relative to the root URL, e.g. "youtube/v3/liveStreams")."""
        return self._methods.get((http_method.upper(), path.strip("/")))

    def path_exists(self, path: str) -> bool:
        return path.strip("/") in self._paths

    def method(self, method_id: str) -> Method:
        return self._by_id[method_id if method_id.startswith("youtube.") else "youtube." + method_id]

    # -- query parameters --------------------------------------------------------------------

    def validate_query(self, method: Method, query: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Check the query against the method and return typed values (repeated ones as lists)."""
        raw: dict[str, list[str]] = {}
        for key, value in query:
            raw.setdefault(key, []).append(value)
        values: dict[str, Any] = {}
        for name, given in raw.items():
            spec = method.parameters.get(name) or self.global_params.get(name)
            if spec is None:
                raise GoogleApiError(
                    400,
                    "badRequest",
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                    f"Field '{name}' could not be found in request message.",
                )
            if spec.get("repeated"):
                items = [v.strip() for g in given for v in g.split(",") if v.strip()]
                values[name] = [self._typed(name, spec, v) for v in items]
            else:
                values[name] = self._typed(name, spec, given[-1])
        for name, spec in method.parameters.items():
            if spec.get("required") and values.get(name) in (None, "", []):
                raise bad_parameter(name, f"Required parameter: {name}", reason="required")
        if "part" in values and method.parts:
            for part in values["part"]:
                if part not in method.parts:
                    raise GoogleApiError(400, "unknownPart", f"'{part}'", domain="youtube.part", location="part")
        return values

    def _typed(self, name: str, spec: Mapping[str, Any], value: str) -> Any:
        kind = spec.get("type", "string")
        if "enum" in spec and value not in spec["enum"]:
            allowed = ", ".join(spec["enum"])
            raise bad_parameter(name, f"Invalid string value: '{value}'. Allowed values: [{allowed}]")
        if kind == "boolean":
            if value not in ("true", "false"):
                raise bad_parameter(name, f"Invalid boolean value: '{value}'.")
            return value == "true"
        if kind == "integer":
            try:
                number = int(value)
            except ValueError:
                raise bad_parameter(name, f"Invalid integer value: '{value}'.") from None
            low, high = spec.get("minimum"), spec.get("maximum")
            if (low is not None and number < int(low)) or (high is not None and number > int(high)):
                raise bad_parameter(name, f"Invalid value '{value}'. Values must be within the range: [{low}, {high}]")
            return number
        return value

    # -- request bodies ----------------------------------------------------------------------

    def validate_body(self, method: Method, body: Any) -> None:
        if method.request_ref is None:
            return
        if not isinstance(body, dict):
            raise GoogleApiError(400, "parseError", "Invalid JSON payload received. Expected an object.")
        self._check_object(method.request_ref, body, "resource")

    def _check_object(self, ref: str, value: Mapping[str, Any], where: str) -> None:
        props = self.schemas[ref].get("properties", {})
        for key, item in value.items():
            if key not in props:
                raise GoogleApiError(
                    400,
                    "badRequest",
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.",
                )
            self._check_value(props[key], item, f"{where}.{key}")

    def _check_value(self, spec: Mapping[str, Any], value: Any, where: str) -> None:
        if value is None:
            return
        if "$ref" in spec:
            if not isinstance(value, dict):
                raise self._type_error(where, "TYPE_MESSAGE", value)
            self._check_object(spec["$ref"], value, where)
            return
        kind = spec.get("type")
        if kind == "array":
            if not isinstance(value, list):
                raise self._type_error(where, "TYPE_ARRAY", value)
            for i, item in enumerate(value):
                self._check_value(spec.get("items", {}), item, f"{where}[{i}]")
        elif kind == "object":
            if not isinstance(value, dict):
                raise self._type_error(where, "TYPE_MESSAGE", value)
            extra = spec.get("additionalProperties")
            if extra:
                for k, v in value.items():
                    self._check_value(extra, v, f"{where}.{k}")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise self._type_error(where, "TYPE_BOOL", value)
        elif kind == "integer":
            # int64/uint64 travel as strings in Google's JSON mapping.
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
            ):
                raise self._type_error(where, "TYPE_INT32", value)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._type_error(where, "TYPE_DOUBLE", value)
        elif kind == "string":
            if not isinstance(value, str):
                raise self._type_error(where, "TYPE_STRING", value)
            if "enum" in spec and value not in spec["enum"]:
                raise self._type_error(where, "TYPE_ENUM", value)

    @staticmethod
    def _type_error(where: str, kind: str, value: Any) -> GoogleApiError:
        # The real front end names fields in snake_case in these messages.
        path = ".".join(re.sub(r"(?<!^)([A-Z])", r"_\1", p).lower() for p in where.split("."))
        return GoogleApiError(400, "invalid", f"Invalid value at '{path}' ({kind}), {json.dumps(value)}")


@lru_cache(maxsize=1)
def _packaged() -> Discovery:
    text = resources.files("orchestrator.standins.emulators").joinpath("youtube.v3.json").read_text()
    return Discovery(json.loads(text))


# -- partial responses (the `fields` parameter) ------------------------------------------------


def apply_fields(data: Any, fields: str | None) -> Any:
    """Apply Google's partial-response selector, e.g. `items(id,status/lifeCycleStatus),nextPageToken`."""
    if not fields:
        return data
    return _select(data, _parse_fields(fields))


def _parse_fields(text: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    pos = 0

    def parse(level: dict[str, Any], closing: bool) -> None:
        nonlocal pos
        while pos < len(text):
            m = re.match(r"\s*([A-Za-z0-9_*]+(?:/[A-Za-z0-9_*]+)*)\s*", text[pos:])
            if not m:
                raise bad_parameter("fields", f"Invalid field selection {text}", reason="invalidParameter")
            pos += m.end()
            node = level
            names = m.group(1).split("/")
            for name in names[:-1]:
                node = node.setdefault(name, {})
            leaf = node.setdefault(names[-1], {})
            if pos < len(text) and text[pos] == "(":
                pos += 1
                parse(leaf, True)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if pos < len(text) and text[pos] == ")":
                if not closing:
                    raise bad_parameter("fields", f"Invalid field selection {text}", reason="invalidParameter")
                pos += 1
                return
        if closing:
            raise bad_parameter("fields", f"Invalid field selection {text}", reason="invalidParameter")

    parse(tree, False)
    return tree


def _select(data: Any, tree: dict[str, Any]) -> Any:
    if not tree:
        return data
    if isinstance(data, list):
        return [_select(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    if "*" in tree:
        return {k: _select(v, tree["*"]) for k, v in data.items()}
    return {k: _select(data[k], sub) for k, sub in tree.items() if k in data}
