#!/usr/bin/env bash
# What `make run` / `make test` need before they set anything up: one line per missing piece, saying
# what to install, and exit 1 - at once, instead of failing after the venv is built. Runs on every
# `make run`, so it stays cheap: one Python start (the venv's when there is one), one `node --version`.
problems=()

python=python3
[[ -x .venv/bin/python ]] && python=.venv/bin/python
# "<major.minor> <3.11 or newer: 1/0> <venv module usable: 1/0>"
read -r py_version py_new_enough py_has_venv < <("$python" -c '
import sys
try:
    import ensurepip, venv
    has_venv = 1
except ImportError:
    has_venv = 0
print("%d.%d" % sys.version_info[:2], int(sys.version_info >= (3, 11)), has_venv)' 2>/dev/null)
if [[ -z $py_version ]]; then
    problems+=("Python 3.11 or newer is required and python3 was not found: install it (e.g. apt install python3 python3-venv).")
elif [[ $py_new_enough != 1 ]]; then
    problems+=("Python 3.11 or newer is required, python3 is $py_version: install a newer Python 3 (e.g. apt install python3).")
elif [[ $python == python3 && $py_has_venv != 1 ]]; then
    problems+=("Python's venv module is missing (python3 -m venv fails): install it (e.g. apt install python3-venv).")
fi

node_version=$(node --version 2>/dev/null)
if [[ -z $node_version ]]; then
    problems+=("Node.js 20 or newer with npm is required and node was not found: install it (https://nodejs.org, or your package manager).")
elif node_major=${node_version#v} && (( ${node_major%%.*} < 20 )); then
    problems+=("Node.js 20 or newer is required, node is $node_version: install a newer Node.js (https://nodejs.org).")
fi
if [[ -n $node_version ]] && ! command -v npm >/dev/null; then
    problems+=("npm was not found next to Node.js $node_version: install npm (e.g. apt install npm, or Node.js from https://nodejs.org).")
fi

if (( ${#problems[@]} )); then
    printf '%s\n' "${problems[@]}" >&2
    exit 1
fi
