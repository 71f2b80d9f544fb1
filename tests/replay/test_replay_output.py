"""What a person sees: an 80-column terminal, pipes closed early, padding, wording, hostile content."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

import journal
from mob_actors import CreateSessionRequest, MobDefinition, PersistentSessionService, Profile, StartTurnRequest
from mob_actors.mobs.runtime import MobRuntime
from mob_actors.testing import EchoAgent

from replay_helpers import World
from support import child_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def one_line_error(r, code: int) -> None:
    assert r.code == code, (r.out, r.err)
    assert r.err.startswith("mob-replay: ") and r.err.count("\n") == 1, r.err


def in_terminal(argv: list[str], columns: int = 80, timeout: float = 60) -> tuple[int, str]:
    """Run ``python -m mob_actors.replay argv`` with stdout on a pseudo-terminal of ``columns``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = child_env()
    env["COLUMNS"] = str(columns)
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, "-m", "mob_actors.replay", *map(str, argv)], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")


# -- ids on a narrow terminal --------------------------------------------------------------------


def test_ls_on_an_80_column_terminal_never_cuts_ids(world: World, run) -> None:
    ids = [e["id"] for e in run("ls", world.path, "--json").json()["entries"] if e["kind"] == "session"]
    code, text = in_terminal(["ls", world.path], columns=80)
    assert code == 0, text
    lines = [ANSI.sub("", line) for line in text.replace("\r", "").splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    for sid in ids:
        shown = [line.split()[0] for line in lines if line.split() and len(line.split()[0]) >= 8 and sid.startswith(line.split()[0])]
        assert len(shown) == 1, (sid, lines)
        token = shown[0]
        assert "\u2026" not in token
        assert [other for other in ids if other.startswith(token)] == [sid]  # unambiguous
        # ... and every command takes it.
        assert run("show", world.path, token, "--json").json()["session_id"] == sid
    assert "unique prefix" in text
    assert "\u2026" not in text  # nothing else cut either: mob and member ids, statuses
    assert all(f" {member} " in text for member in world.members)  # member ids whole


def test_ls_on_a_wide_terminal_shows_whole_ids(world: World) -> None:
    code, text = in_terminal(["ls", world.path], columns=200)
    assert code == 0 and world.chat in text and "unique prefix" not in text


# -- closed pipes --------------------------------------------------------------------------------


def into_closed_pipe(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m mob_actors.replay argv`` writing into a pipe nobody reads any more (`| head`
    after its first line, made certain): stdout buffered as usual, not PYTHONUNBUFFERED."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = child_env()
    env.pop("PYTHONUNBUFFERED", None)
    try:
        return subprocess.Popen([sys.executable, "-m", "mob_actors.replay", *map(str, argv)], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    finally:
        os.close(write_end)


def run_into_closed_pipe(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = into_closed_pipe(argv, cwd)
    _, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, None, err)


def pipe_commands(world: World, tmp: Path) -> list[list[str]]:
    export = tmp / "chat.jsonl"
    return [
        ["ls", world.path], ["ls", world.path, "--json"],  # --json: the one JSON writer every command uses
        ["show", world.path, world.chat], ["state", world.path, world.chat], ["verify", world.path],
        ["diff", world.path, world.chat, "--at", "2", "--at", "9"], ["diff", world.path, world.path, world.chat],
        ["export", world.path, world.chat, "-o", "-"], ["export", world.path, world.chat, "-o", str(export)],
        ["import", str(export), str(tmp / "imported")],
        ["mob", world.path, "team", "--events"],
        ["html", world.path, world.chat, "-o", str(tmp / "chat.html")],
        ["--help"], ["--version"],
    ]


def test_a_closed_pipe_is_a_normal_end_for_every_command(world: World, tmp_path: Path) -> None:
    commands = pipe_commands(world, tmp_path)
    first = commands.index(["import", str(tmp_path / "chat.jsonl"), str(tmp_path / "imported")]) - 1
    assert run_into_closed_pipe(commands[first], tmp_path).returncode == 0  # the export import reads
    started = [(argv, into_closed_pipe(argv, tmp_path)) for argv in commands if argv != commands[first]]
    for argv, proc in started:  # all at once: the suite stays quick
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (argv, err)
        assert "Traceback" not in err and "Exception ignored" not in err and "Broken" not in err, (argv, err)
    assert (tmp_path / "imported").is_dir()  # the commands still did their work


def test_follow_into_a_closed_pipe_ends_with_exit_0(world_copy: World, tmp_path: Path) -> None:
    done: list[subprocess.CompletedProcess[str]] = []
    follower = threading.Thread(target=lambda: done.append(run_into_closed_pipe(
        ["follow", world_copy.path, "--for", "20"], tmp_path)))
    follower.start()
    with journal.open(world_copy.path) as j:
        deadline = time.monotonic() + 30
        while follower.is_alive() and time.monotonic() < deadline:
            j.append("audit", [journal.Event("noted", {"n": 1})])
            time.sleep(0.05)
    follower.join(10)
    assert done, "follow did not end when its reader went away"
    p = done[0]
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr


def test_ls_piped_into_head(world: World) -> None:
    script = f"{sys.executable} -m mob_actors.replay ls {world.path} | head -1; exit ${{PIPESTATUS[0]}}"
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=child_env(), timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("ID") and p.stderr == "", p.stderr


# -- piped output, wording, --version --------------------------------------------------------------


def test_piped_output_has_no_trailing_spaces(world: World, run) -> None:
    for argv in (["ls", world.path], ["show", world.path, world.chat], ["state", world.path, world.chat],
                 ["mob", world.path, "team", "--events"], ["verify", world.path]):
        r = run(*argv)
        assert r.code == 0, r.err
        padded = [line for line in r.out.splitlines() if line != line.rstrip()]
        assert padded == [], (argv, padded[:3])


def test_version(run) -> None:
    r = run("--version")
    assert r.code == 0 and re.fullmatch(r"mob-replay \S+\n", r.out), r.out


def test_counts_are_singular_when_one(world: World, run) -> None:
    r = run("ls", world.path)
    assert "1 mob," in r.out and "1 mobs" not in r.out


def test_ls_says_what_other_streams_there_are(world_copy: World, run) -> None:
    with journal.open(world_copy.path) as j:
        j.append("audit-log", [journal.Event("noted", {"n": 1}), journal.Event("noted", {"n": 2})])
    r = run("ls", world_copy.path)
    assert r.code == 0 and "1 other stream: audit-log (2 events)" in r.out, r.out
    data = run("ls", world_copy.path, "--json").json()
    assert data["other_streams"] == [{"stream_id": "audit-log", "events": 2}]


def test_show_from_after_to_is_bad_usage(world: World, run) -> None:
    r = run("show", world.path, world.chat, "--from", 5, "--to", 2)
    one_line_error(r, 2)
    assert "--from 5" in r.err and r.out == ""


def test_diff_backwards_says_removed(world: World, run) -> None:
    d = run("diff", world.path, world.chat, "--at", 5, "--at", 2, "--json").json()
    assert d["messages"]["removed"] and not d["messages"]["added"]
    r = run("diff", world.path, world.chat, "--at", 5, "--at", 2)
    assert r.code == 0 and f"{len(d['messages']['removed'])} messages removed from index 3" in r.out, r.out
    assert "replaced" not in r.out


def test_follow_an_unknown_mob_or_session_is_an_error_unless_wait(world: World, run) -> None:
    r = run("follow", world.path, "--mob", "nope")
    one_line_error(r, 2)
    assert "known mobs: team" in r.err and "--wait" in r.err
    r = run("follow", world.path, "--session", "01a21183-0000-7000-8000-000000000000")
    one_line_error(r, 2)
    assert world.chat in r.err and "--wait" in r.err
    waited = run("follow", world.path, "--mob", "nope", "--wait", "--for", "0.2")
    assert waited.code == 0 and "waiting" in waited.err


# -- hostile content -------------------------------------------------------------------------------

# An OSC 52 clipboard write, then erase-line and a cursor move: what a model reply or an imported
# file can carry to an operator's terminal.
PAYLOAD = "\x1b]52;c;aGVsbG8=\x07\x1b[2K\x1b[1A\x9b31m"


@pytest.fixture
def hostile(world_copy: World) -> tuple[World, str]:
    """The world copy with a mob, member, profile, session, prompt, metadata and stream carrying PAYLOAD."""
    with MobRuntime.open(world_copy.path, EchoAgent()) as runtime:
        mob = runtime.create_mob(MobDefinition("evil" + PAYLOAD, {"dev" + PAYLOAD: Profile("dev" + PAYLOAD, "sys" + PAYLOAD)}))
        mob.spawn("m" + PAYLOAD, "dev" + PAYLOAD, initial_prompt="hi" + PAYLOAD)
    svc = PersistentSessionService(world_copy.path, EchoAgent())
    try:
        sid = svc.create_session(CreateSessionRequest(system_prompt="s" + PAYLOAD, metadata={"k" + PAYLOAD: "v" + PAYLOAD})).id
        svc.start_turn(sid, StartTurnRequest("q" + PAYLOAD))
    finally:
        svc.shutdown()
    with journal.open(world_copy.path) as j:
        j.append("log" + PAYLOAD, [journal.Event("noted", {"text": PAYLOAD})])
    return world_copy, sid


def human_commands(path: str, sid: str) -> list[list[str]]:
    mob = "evil" + PAYLOAD
    return [["ls", path], ["show", path, sid], ["state", path, sid], ["diff", path, sid, "--at", "1"],
            ["mob", path, mob, "--events"], ["show", path, "nope" + PAYLOAD], ["mob", path, "x" + PAYLOAD]]


def test_control_characters_are_shown_not_sent_on_a_pipe(hostile: tuple[World, str], run) -> None:
    world, sid = hostile
    for argv in human_commands(world.path, sid):
        r = run(*argv)
        assert "\x1b" not in r.out + r.err and "\x9b" not in r.out + r.err and "\x07" not in r.out + r.err, argv
        if r.code == 0:
            assert "\\x1b]52" in r.out, (argv, r.out)
        else:
            assert "\\x1b" in r.err, (argv, r.err)


def test_control_characters_are_shown_not_sent_on_a_terminal(hostile: tuple[World, str]) -> None:
    world, sid = hostile
    for argv in human_commands(world.path, sid)[:5]:
        code, text = in_terminal(argv, columns=200)
        assert code == 0, (argv, text)
        assert "\x1b]52" not in text and "\x1b[2K" not in text and "\x1b[1A" not in text and "\x9b" not in text, argv
        assert "\\x1b]52" in text, argv


def test_follow_shows_control_characters(hostile: tuple[World, str], tmp_path: Path) -> None:
    world, _ = hostile
    proc = subprocess.Popen([sys.executable, "-m", "mob_actors.replay", "follow", world.path, "--limit", "1", "--for", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    time.sleep(1.0)  # let it start following
    with journal.open(world.path) as j:
        for _ in range(100):
            j.append("log", [journal.Event("noted", {"text": PAYLOAD})])
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "\x1b" not in out and "\x9b" not in out
    assert "\\u001b]52" in out or "\\x1b]52" in out  # shown (as JSON shows raw data, or as \x1b)


def test_json_output_carries_no_raw_controls(hostile: tuple[World, str], run) -> None:
    world, sid = hostile
    for argv in (["show", world.path, sid, "--json"], ["state", world.path, sid, "--json"], ["ls", world.path, "--json"]):
        r = run(*argv)
        assert r.code == 0, r.err
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", r.out), argv
    data = run("show", world.path, sid, "--json").json()  # and the JSON still says exactly what is stored
    assert data["events"][0]["data"]["messages"][0]["content"] == "s" + PAYLOAD


def test_bad_arguments_are_quoted_visibly(run) -> None:
    r = run("show", "--from", "x" + PAYLOAD)
    one_line_error(r, 2)
    assert "\x1b" not in r.err and "\\x1b" in r.err


def test_export_and_html_explain_their_arguments(run) -> None:
    for command, arguments in (("export", ("PATH", "SESSION", "-o FILE")), ("html", ("PATH", "SESSION", "-o FILE.html"))):
        r = run(command, "--help")
        assert r.code == 0
        for argument in arguments:
            line = next(line for line in r.out.splitlines() if line.strip().startswith(argument))
            assert len(line.split()) > len(argument.split()), (command, line)  # followed by its help text
        assert "0600" in r.out
