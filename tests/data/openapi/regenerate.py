"""Regenerate the vendored GitHub OpenAPI schemas that FakeGitHub's answers are checked against.

Needs network (the npm registry) and ``npm``; ``make test`` never runs this, it only reads
what it wrote. Run from anywhere::

    python tests/data/openapi/regenerate.py            # latest published versions
    python tests/data/openapi/regenerate.py --rest 23.0.2 --webhooks 12.1.0

It ``npm pack``s ``@octokit/openapi`` and ``@octokit/openapi-webhooks`` into a temp dir,
reads their ``generated/api.github.com.json`` (the api.github.com flavour), and writes:

- ``rest.json``: for each operationId named in ``operations.json`` ("routes"), its method,
  path template and response schemas by status (``null`` when the status has no JSON body),
  plus only the ``components.schemas`` those reach (``$ref``s kept, pointing inside the file),
  without annotations (descriptions, examples), which never affect validation.
  OpenAPI 3.0: schemas use ``nullable``, which the test converts when it loads them.
- ``webhooks.json``: for each webhook key named in ``operations.json`` ("webhooks", e.g.
  ``issues-opened``; ``status`` has no action), its payload schema, plus the reachable
  ``components.schemas`` (OpenAPI 3.1, plain JSON Schema).

``operations.json`` maps each FakeGitHub route handler (``module.function``) to the
operationId(s) its answers must match (more than one for an undocumented legacy endpoint
whose answers take the shapes of documented ones); tests/testing/test_fake_github_openapi.py
fails when a route is missing from it. Add a route there, then rerun this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLAVOUR = "package/generated/api.github.com.json"
_PREFIX = "#/components/schemas/"
_ANNOTATIONS = {"description", "example", "examples", "title", "externalDocs", "summary"}
_MAPS = {"properties", "patternProperties", "$defs", "definitions"}


def fetch(package: str, version: str | None, into: Path) -> tuple[str, dict[str, Any]]:
    """``npm pack`` ``package`` into ``into``; return its version and api.github.com document."""
    spec = f"{package}@{version}" if version else package
    out = subprocess.run(
        ["npm", "pack", spec, "--json"], cwd=into, check=True, capture_output=True, text=True
    )
    info = json.loads(out.stdout)[0]
    with tarfile.open(into / info["filename"]) as tar:
        member = tar.extractfile(FLAVOUR)
        assert member is not None, f"{FLAVOUR} missing from {spec}"
        return str(info["version"]), json.load(member)


def refs_in(node: Any) -> set[str]:
    """Return the component schema names ``node`` refers to directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_PREFIX):
            found.add(ref.removeprefix(_PREFIX))
        for value in node.values():
            found |= refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs_in(value)
    return found


def strip(node: Any, is_map: bool = False) -> Any:
    """Return schema ``node`` without annotations (descriptions, examples), which never validate.

    ``is_map`` marks a name-to-schema map (``properties``...), whose keys are kept as they are.
    """
    if isinstance(node, dict):
        return {
            k: strip(v, not is_map and k in _MAPS)
            for k, v in node.items()
            if is_map or k not in _ANNOTATIONS
        }
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def closure(doc: dict[str, Any], roots: list[Any]) -> dict[str, Any]:
    """Return the component schemas reachable from ``roots``, sorted by name."""
    schemas = doc["components"]["schemas"]
    todo = set().union(*(refs_in(r) for r in roots))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= refs_in(schemas[name]) - seen
    return {name: strip(schemas[name]) for name in sorted(seen)}


def json_schema(doc: dict[str, Any], response: dict[str, Any]) -> Any:
    """Return a response's JSON body schema (resolving a components/responses ref), or None."""
    ref = response.get("$ref")
    if isinstance(ref, str):
        response = doc["components"]["responses"][ref.rsplit("/", 1)[-1]]
    for ctype, media in (response.get("content") or {}).items():
        if "json" in ctype:
            return media.get("schema")
    return None


def rest(doc: dict[str, Any], wanted: set[str], version: str) -> dict[str, Any]:
    """Return the vendored REST document for the operationIds in ``wanted``."""
    ops: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") in wanted:
                ops[op["operationId"]] = {
                    "method": method.upper(),
                    "path": path,
                    "responses": {
                        status: strip(json_schema(doc, resp))
                        for status, resp in sorted(op.get("responses", {}).items())
                    },
                }
    missing = wanted - set(ops)
    assert not missing, f"operationIds not in the description: {sorted(missing)}"
    ops = dict(sorted(ops.items()))
    return {
        "source": f"@octokit/openapi {version} {FLAVOUR.removeprefix('package/')}",
        "openapi": doc["openapi"],
        "operations": ops,
        "components": {"schemas": closure(doc, list(ops.values()))},
    }


def webhooks(doc: dict[str, Any], wanted: list[str], version: str) -> dict[str, Any]:
    """Return the vendored webhook document for the webhook keys in ``wanted``."""
    hooks: dict[str, Any] = {}
    for key in sorted(wanted):
        post = doc["webhooks"][key]["post"]
        hooks[key] = strip(post["requestBody"]["content"]["application/json"]["schema"])
    return {
        "source": f"@octokit/openapi-webhooks {version} {FLAVOUR.removeprefix('package/')}",
        "openapi": doc["openapi"],
        "webhooks": hooks,
        "components": {"schemas": closure(doc, list(hooks.values()))},
    }


def write(name: str, body: dict[str, Any]) -> None:
    """Write ``body`` as compact, stable JSON next to this script."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    (HERE / name).write_text(text + "\n")
    print(f"wrote {name}: {len(text) // 1024} KiB")


def main() -> None:
    """Fetch both packages and rewrite rest.json and webhooks.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", help="@octokit/openapi version (default: latest)")
    parser.add_argument("--webhooks", help="@octokit/openapi-webhooks version (default: latest)")
    args = parser.parse_args()
    listing = json.loads((HERE / "operations.json").read_text())
    wanted = {op for ops in listing["routes"].values() for op in ops}
    with tempfile.TemporaryDirectory() as tmp:
        rest_version, rest_doc = fetch("@octokit/openapi", args.rest, Path(tmp))
        hook_version, hook_doc = fetch("@octokit/openapi-webhooks", args.webhooks, Path(tmp))
    write("rest.json", rest(rest_doc, wanted, rest_version))
    write("webhooks.json", webhooks(hook_doc, listing["webhooks"], hook_version))


if __name__ == "__main__":
    main()
