#!/usr/bin/env bash
# What `make run` / `make test` need before they set anything up: one line per missing piece, saying
# what to install, and exit 1 - in well under a second, instead of failing after the venv is built.
problems=()

py_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
if [[ -z $py_version ]]; then
    problems+=("Python 3.11 or newer is required and python3 was not found: install it (e.g. apt install python3 python3-venv).")
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    problems+=("Python 3.11 or newer is required, python3 is $py_version: install a newer Python 3 (e.g. apt install python3).")
elif [[ ! -x .venv/bin/python ]] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
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
