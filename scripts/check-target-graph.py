#!/usr/bin/env python3
"""Fails when the package's target graph differs from the one README.md's Development section allows.

The README holds the intended graph in a fenced block whose info string is `target-graph`, one target a
line: `Target: Dependency Dependency …` (targets and products by name, without package names). This
script compares it with `swift package dump-package`: a target that gains a dependency the README does
not list, a listed dependency that the package no longer has, and a target on one side only are all
errors. A second block, `target-rules`, holds lines `Target !> Other Other …`: Target may not reach any
of the others through any chain of dependencies (the stage rules: Spec knows no rendering, and so on).
Run from the package root (scripts/test.sh runs it before building).
"""
import json
import re
import subprocess
import sys


def readme_block(path, info, separator, shape):
    text = open(path, encoding="utf-8").read()
    blocks = re.findall(r"^```" + info + r"\n(.*?)^```", text, re.M | re.S)
    if len(blocks) != 1:
        sys.exit(f"{path}: expected exactly one ```{info} block, found {len(blocks)}")
    entries = {}
    for number, line in enumerate(blocks[0].splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, found, names = line.partition(separator)
        if not found:
            sys.exit(f"{path}: {info} line {number}: expected '{shape}', got {line!r}")
        entries[name.strip()] = set(names.split())
    return entries


def reachable(graph, start):
    seen, stack = set(), list(graph.get(start, ()))
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph.get(name, ()))
    return seen


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
    allowed = readme_block("README.md", "target-graph", ":", "Target: Dependency …")
    rules = readme_block("README.md", "target-rules", "!>", "Target !> Other …")
    actual = package_graph()
    problems = []
    for name, forbidden in sorted(rules.items()):
        if name not in actual:
            problems.append(f"README.md's target rules name {name}, which the package does not have")
        for other in sorted(forbidden & reachable(actual, name)):
            problems.append(f"{name} reaches {other}, which README.md's target rules forbid")
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
    print(f"check-target-graph: {len(actual)} targets match README.md's target graph and keep its {len(rules)} rules")


main()
