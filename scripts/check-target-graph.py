#!/usr/bin/env python3
"""Fails when the package's target graph differs from the one README.md's Development section allows.

The README holds the intended graph in a fenced block whose info string is `target-graph`, one target a
line: `Target: Dependency Dependency …` (targets and products by name, without package names). This
script compares it with `swift package dump-package`: a target that gains a dependency the README does
not list, a listed dependency that the package no longer has, and a target on one side only are all
errors. Run from the package root (scripts/test.sh runs it before building).
"""
import json
import re
import subprocess
import sys


def readme_graph(path):
    text = open(path, encoding="utf-8").read()
    blocks = re.findall(r"^```target-graph\n(.*?)^```", text, re.M | re.S)
    if len(blocks) != 1:
        sys.exit(f"{path}: expected exactly one ```target-graph block, found {len(blocks)}")
    graph = {}
    for number, line in enumerate(blocks[0].splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, colon, dependencies = line.partition(":")
        if not colon:
            sys.exit(f"{path}: target-graph line {number}: expected 'Target: Dependency …', got {line!r}")
        graph[name.strip()] = set(dependencies.split())
    return graph


def package_graph():
    dump = subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True)
    graph = {}
    for target in json.loads(dump.stdout)["targets"]:
        dependencies = set()
        for dependency in target.get("dependencies", []):
            (kind, value), = dependency.items()
            dependencies.add(value[0])  # byName, target and product all name the dependency first
        for plugin in target.get("pluginUsages") or []:
            (kind, value), = plugin.items()
            dependencies.add(value[0])
        graph[target["name"]] = dependencies
    return graph


def main():
    allowed, actual = readme_graph("README.md"), package_graph()
    problems = []
    for name in sorted(actual.keys() - allowed.keys()):
        problems.append(f"target {name} is not in README.md's target graph")
    for name in sorted(allowed.keys() - actual.keys()):
        problems.append(f"README.md's target graph lists {name}, which the package does not have")
    for name in sorted(actual.keys() & allowed.keys()):
        for dependency in sorted(actual[name] - allowed[name]):
            problems.append(f"{name} depends on {dependency}, which README.md's target graph does not allow")
        for dependency in sorted(allowed[name] - actual[name]):
            problems.append(f"README.md's target graph says {name} depends on {dependency}, but it does not")
    if problems:
        print("check-target-graph: the package and README.md's target graph differ:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"check-target-graph: {len(actual)} targets match README.md's target graph")


main()
