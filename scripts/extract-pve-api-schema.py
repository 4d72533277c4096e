#!/usr/bin/env python3
"""Extracts the endpoints `seedgen apply` calls from Proxmox's published API schema.

Input: pve-docs `api-viewer/apidata.js` (a JavaScript file `const apiSchema = [...];`).
Output: Tests/Fixtures/pve-api/apidata-subset.json, {path: {method: {parameters, returns, permissions}}},
which the tests check every planned request against.

    scripts/extract-pve-api-schema.py /path/to/apidata.js "pve-docs COMMIT (DATE)"
"""
import json
import sys

ENDPOINTS = [
    "/version",
    "/cluster/nextid",
    "/nodes",
    "/access/permissions",
    "/nodes/{node}/storage",
    "/nodes/{node}/storage/{storage}/status",
    "/nodes/{node}/storage/{storage}/content",
    "/nodes/{node}/storage/{storage}/content/{volume}",
    "/nodes/{node}/storage/{storage}/upload",
    "/nodes/{node}/storage/{storage}/download-url",
    "/nodes/{node}/qemu",
    "/nodes/{node}/qemu/{vmid}/config",
    "/nodes/{node}/qemu/{vmid}/resize",
    "/nodes/{node}/qemu/{vmid}/status/current",
    "/nodes/{node}/qemu/{vmid}/status/start",
    "/nodes/{node}/tasks/{upid}/status",
    "/nodes/{node}/tasks/{upid}/log",
]


def walk(nodes, found):
    for node in nodes:
        if node.get("path") in ENDPOINTS:
            found[node["path"]] = {
                method: {
                    "parameters": info.get("parameters", {}),
                    "returns": info.get("returns", {}),
                    "permissions": info.get("permissions", {}),
                    "allowtoken": info.get("allowtoken", 0),
                    "protected": info.get("protected", 0),
                }
                for method, info in node.get("info", {}).items()
            }
        walk(node.get("children", []), found)


def main():
    source, provenance = sys.argv[1], sys.argv[2]
    text = open(source, encoding="utf-8").read()
    start, end = text.index("["), text.rindex("]")
    found = {}
    walk(json.loads(text[start : end + 1]), found)
    missing = [path for path in ENDPOINTS if path not in found]
    if missing:
        sys.exit(f"not in {source}: {missing}")
    out = {"source": f"proxmox/pve-docs api-viewer/apidata.js, {provenance}", "endpoints": found}
    with open("Tests/Fixtures/pve-api/apidata-subset.json", "w", encoding="utf-8") as file:
        json.dump(out, file, indent=1, sort_keys=True)
        file.write("\n")
    print(f"{len(found)} endpoints written")


main()
