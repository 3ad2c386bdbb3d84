"""Check FakeGitHub's answers and webhooks against GitHub's published OpenAPI description.

The description is vendored in tests/data/openapi/ (see regenerate.py there): ``rest.json``
(OpenAPI 3.0, ``nullable`` converted here) and ``webhooks.json`` (OpenAPI 3.1). ``record``
wraps every route of one FakeGitHub so each answer it gives (status and body, errors too)
is kept as an ``Exchange``; ``Description.violations`` says what in them breaks the schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from factory.testing.fake_github import FakeGitHub
from factory.testing.github_http import Reply, Request, Route
from factory.testing.github_json import JSON
from factory.testing.github_model import ApiError

OPENAPI = Path(__file__).resolve().parents[1] / "data" / "openapi"
_MAPS = {"properties", "patternProperties", "$defs", "definitions"}
# Fields the description requires but the recorded real answers in tests/data/github-api/
# (@octokit/fixtures, older than the description) lack: FakeGitHub keeps to the recordings,
# which tests/testing/test_fake_github_recordings.py compares key for key.
RECORDED = {
    ("repos/get", "has_discussions"): "get-repository.json",
    ("search/issues-and-pull-requests", "search_type"): "search-issues.json",
}


@dataclass(frozen=True)
class Exchange:
    """One answer FakeGitHub gave: which route handler, the request, status and body."""

    route: str
    method: str
    path: str
    status: int
    body: Any
    json: bool = True


def route_name(route: Route) -> str:
    """Return a route's name in operations.json: ``module.handler`` (module without package)."""
    return f"{route.handler.__module__.rsplit('.', 1)[-1]}.{route.handler.__name__}"


def record(fake: FakeGitHub) -> list[Exchange]:
    """Wrap every route of ``fake`` so each answer is appended to the returned list."""
    seen: list[Exchange] = []

    def wrap(route: Route) -> Route:
        name = route_name(route)

        def handler(req: Request) -> Reply:
            try:
                reply = route.handler(req)
            except ApiError as err:
                seen.append(Exchange(name, req.method, req.path, err.status, err.body()))
                raise
            is_json = reply.content_type.startswith("application/json")
            seen.append(Exchange(name, req.method, req.path, reply.status, reply.body, is_json))
            return reply

        return Route(route.method, route.pattern, handler, route.repo)

    fake.app.router.routes = [wrap(r) for r in fake.app.router.routes]
    return seen


def nullable_to_json_schema(node: Any, is_map: bool = False) -> Any:
    """Return OpenAPI 3.0 schema ``node`` as JSON Schema: ``nullable: true`` admits null."""
    if isinstance(node, list):
        return [nullable_to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_to_json_schema(v, not is_map and k in _MAPS) for k, v in node.items()}
    if is_map or not out.pop("nullable", False):
        return out
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        return out
    if "type" in out or "enum" in out:
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _message(err: ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"{where}: {err.message[:300]}"


class Description:
    """The vendored REST and webhook descriptions, ready to validate against."""

    def __init__(self) -> None:
        self.rest: JSON = nullable_to_json_schema(json.loads((OPENAPI / "rest.json").read_text()))
        self.hooks: JSON = nullable_to_json_schema(
            json.loads((OPENAPI / "webhooks.json").read_text())
        )
        listing = json.loads((OPENAPI / "operations.json").read_text())
        self.routes: dict[str, list[str]] = listing["routes"]
        self.registry: Registry[Any] = Registry().with_resources(
            [
                ("urn:rest", Resource(self.rest, DRAFT202012)),
                ("urn:hooks", Resource(self.hooks, DRAFT202012)),
            ]
        )

    def _errors(self, uri: str, pointer: str, instance: Any) -> list[str]:
        validator = Draft202012Validator({"$ref": f"{uri}#/{pointer}"}, registry=self.registry)
        errors = list(validator.iter_errors(instance))
        if not errors:
            return []
        best = best_match(errors)
        return [_message(best), *(_message(e) for e in errors if e is not best)][:5]

    def response_errors(self, operation: str, status: int, body: Any) -> list[str]:
        """Return what is wrong with ``body`` as ``operation``'s answer with ``status``."""
        responses = self.rest["operations"][operation]["responses"]
        key = str(status)
        if status == 304:
            return []
        if key not in responses:
            if status >= 400:
                return self._errors("urn:rest", "components/schemas/basic-error", body)
            return [f"status {status} is not a documented answer of {operation}"]
        if responses[key] is None:
            if status >= 400:  # documented without a schema: GitHub's error body all the same
                return self._errors("urn:rest", "components/schemas/basic-error", body)
            return [] if body in (None, "", b"") else [f"{status} must have no body"]
        errors = self._errors("urn:rest", _pointer("operations", operation, "responses", key), body)
        tolerated = {
            f"(root): '{f}' is a required property" for op, f in RECORDED if op == operation
        }
        return [e for e in errors if e not in tolerated]

    def exchange_errors(self, exchange: Exchange) -> list[str]:
        """Return what is wrong with one recorded answer (empty when it fits an operation)."""
        operations = self.routes.get(exchange.route)
        if operations is None:
            return [f"route {exchange.route} is not in tests/data/openapi/operations.json"]
        if not exchange.json:
            return []
        found: list[str] = []
        for operation in operations:
            errors = self.response_errors(operation, exchange.status, exchange.body)
            if not errors:
                return []
            found += [f"{operation}: {e}" for e in errors]
        return found

    def webhook_errors(self, event: str, payload: JSON) -> list[str]:
        """Return what is wrong with one emitted webhook (event name and payload)."""
        key = event.replace("_", "-")
        if "action" in payload:
            key = f"{key}-{payload['action']}"
        if key not in self.hooks["webhooks"]:
            return [f"webhook {key} is not in the vendored description (operations.json)"]
        return self._errors("urn:hooks", _pointer("webhooks", key), payload)

    def violations(self, exchanges: list[Exchange], webhooks: list[tuple[str, JSON]]) -> list[str]:
        """Return one line per schema violation in ``exchanges`` and ``webhooks``."""
        lines: list[str] = []
        for ex in exchanges:
            lines += [
                f"{ex.method} {ex.path} -> {ex.status} [{ex.route}] {e}"
                for e in self.exchange_errors(ex)
            ]
        for event, payload in webhooks:
            lines += [f"webhook {event}: {e}" for e in self.webhook_errors(event, payload)]
        return sorted(set(lines))


@cache
def description() -> Description:
    """Return the loaded description (read once per test run)."""
    return Description()
