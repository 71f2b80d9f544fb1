"""Append to a journal in ./data and replay it (becomes the agent-host demo)."""

import journal

with journal.open("data") as j:
    result = j.append("demo", [journal.Event("hello", {"n": j.highest_seq("demo") + 1})])
    print(f"appended seq {result.last_seq} at position {result.position}")
    for event in j.read("demo"):
        print(event.seq, event.type, event.data)
