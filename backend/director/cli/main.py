"""``director``: chat, interactive chat, sessions, show and export, against a running server.

Exit codes: 0 success; 1 the turn failed (its message says why); 2 bad usage; 3 the server cannot be
reached; 4 the token is missing or wrong; 5 the server refused the request (unknown session, busy
session, ...); 6 `director replay` found differences; 130 the turn was stopped (Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from director.cli.output import JSONOutput, TextOutput
from director.client import DirectorClient
from director.client.errors import (
    AuthError,
    ClientError,
    ConnectionLostError,
    RequestError,
    ServerUnreachableError,
)
from director.client.events import Final

PROMPT = "you> "


class ExitCode(IntEnum):
    OK = 0
    TURN_FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    AUTH = 4
    REFUSED = 5
    DIFFERS = 6  # `director replay`: the engine's requests differ from the recording
    STOPPED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="director",
        description="Chat with a running Director server. The token comes from DIRECTOR_AUTH_TOKEN.",
        epilog="Exit codes: 0 ok, 1 turn failed, 2 usage, 3 server unreachable, 4 bad token, "
        "5 request refused, 6 replay differs, 130 stopped.",
    )
    parser.add_argument("--url", help="the server (default: DIRECTOR_URL, else http://127.0.0.1:8000)")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="ask a question (no question: interactive chat)")
    chat.add_argument("question", nargs="?", help="the question; omit it for an interactive chat")
    chat.add_argument("--session", help="continue this session")
    chat.add_argument(
        "--agent", action="append", dest="agents", metavar="NAME", help="limit the turn to agents"
    )
    chat.add_argument("--model", help="the model to answer with")
    chat.add_argument("--json", action="store_true", help="print events as JSON lines")

    sessions = commands.add_parser("sessions", help="list sessions, newest first")
    sessions.add_argument("--json", action="store_true", help="print them as JSON")

    show = commands.add_parser("show", help="print a session as markdown")
    show.add_argument("session_id")

    export = commands.add_parser("export", help="write a session out as markdown or JSON")
    export.add_argument("session_id")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument(
        "-o", "--output", help="file to write (default: director-<id>.<format>; '-' for stdout)"
    )

    replay = commands.add_parser("replay", help="re-run a recorded session locally and report what differs")
    replay.add_argument("file", type=Path, help="a recording written with DIRECTOR_RECORD_DIR")
    replay.add_argument("--replay-agents", action="store_true", help="agents answer from the recording too")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        return run_replay(args)  # local: no server involved
    try:
        with DirectorClient(args.url) as client:
            return COMMANDS[args.command](client, args)
    except AuthError as exc:
        return fail(exc.message, ExitCode.AUTH)
    except (ServerUnreachableError, ConnectionLostError) as exc:
        return fail(exc.message, ExitCode.UNREACHABLE)
    except RequestError as exc:
        return fail(f"{exc.message} ({exc.code})", ExitCode.REFUSED)
    except ClientError as exc:
        return fail(exc.message, ExitCode.TURN_FAILED)
    except KeyboardInterrupt:
        return ExitCode.STOPPED


def fail(message: str, code: ExitCode) -> int:
    print(f"director: {message}", file=sys.stderr)
    return code


def run_chat(client: DirectorClient, args: argparse.Namespace) -> int:
    output = JSONOutput() if args.json else TextOutput()
    if args.question is not None:
        final = ask(client, args.question, args, output)
        return exit_code(final)
    return interactive(client, args, output)


def ask(client: DirectorClient, question: str, args: argparse.Namespace, output: Any) -> Final:
    turn = client.chat(question, session_id=args.session, agents=args.agents, model=args.model)
    with stop_on_interrupt(client):
        for event in turn:
            output.event(event, turn.tracker)
    assert turn.final is not None
    return turn.final


def interactive(client: DirectorClient, args: argparse.Namespace, output: Any) -> int:
    """One session, one question per line; Ctrl+C stops an answer, Ctrl+D (or `exit`) leaves."""
    client.session_id = args.session
    print("Director: type a message, Enter to send; Ctrl+C stops an answer, Ctrl+D leaves.", file=sys.stderr)
    last = ExitCode.OK
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            print(file=sys.stderr)
            return last
        except KeyboardInterrupt:
            print(file=sys.stderr)
            continue  # Ctrl+C at the prompt clears the line, as shells do
        if line.strip() in ("exit", "quit"):
            return last
        if not line.strip():
            continue
        args.session = client.session_id
        last = exit_code(ask(client, line, args, output))


@contextmanager
def stop_on_interrupt(client: DirectorClient) -> Any:
    """First Ctrl+C: send ``stop`` and wait for the stopped answer. Second: leave at once."""
    interrupted = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        client.request_stop()
        sys.stderr.write("\n(stopping… Ctrl+C again to quit)\n")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_code(final: Final) -> int:
    if final.status == "success":
        return ExitCode.OK
    if final.status == "stopped":
        return ExitCode.STOPPED
    return ExitCode.TURN_FAILED


def run_sessions(client: DirectorClient, args: argparse.Namespace) -> int:
    sessions = client.sessions()
    if args.json:
        print(json.dumps(sessions, ensure_ascii=False, indent=2))
        return ExitCode.OK
    for session in sessions:
        updated = datetime.fromtimestamp(session["updated_at"], UTC).strftime("%Y-%m-%d %H:%M")
        print(f"{session['session_id']}  {updated}  {session.get('title') or ''}")
    return ExitCode.OK


def run_show(client: DirectorClient, args: argparse.Namespace) -> int:
    sys.stdout.write(client.export(args.session_id, "md"))
    return ExitCode.OK


def run_export(client: DirectorClient, args: argparse.Namespace) -> int:
    body = client.export(args.session_id, args.format)
    if args.output == "-":
        sys.stdout.write(body)
        return ExitCode.OK
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.session_id)
    path = Path(args.output or f"director-{safe_id}.{args.format}")
    path.write_text(body, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return ExitCode.OK


def run_replay(args: argparse.Namespace) -> int:
    import logging

    from director.agents import AGENTS
    from director.core.replay_session import replay
    from director.llm import get_default_llm

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = replay(
            args.file,
            replay_agents=args.replay_agents,
            agent_classes=list(AGENTS),
            agent_llm=None if args.replay_agents else get_default_llm(),
            on_turn=lambda number, question: print(f"turn {number}: {question[:100]}", file=sys.stderr),
        )
    except (OSError, ValueError) as exc:
        return fail(f"cannot replay {args.file}: {exc}", ExitCode.USAGE)
    for difference in report.differences:
        print(difference.describe())
    if report.calls_made != report.calls_recorded:
        print(f"the engine made {report.calls_made} model calls; the recording has {report.calls_recorded}")
    verdict = "matches the recording" if report.matches else "differs from the recording"
    endings = ", ".join(report.statuses)
    print(
        f"{report.turns} turn(s), {report.calls_made} model call(s), endings {endings}: {verdict}",
        file=sys.stderr,
    )
    return ExitCode.OK if report.matches else ExitCode.DIFFERS


COMMANDS = {"chat": run_chat, "sessions": run_sessions, "show": run_show, "export": run_export}
