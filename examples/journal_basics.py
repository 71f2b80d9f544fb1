"""The journal on its own: append to a stream in ./data/journal-basics and replay everything."""

import journal

with journal.open("data/journal-basics") as j:
    result = j.append("greetings", [journal.Event("hello", {"n": j.highest_seq("greetings") + 1})])
    print(f"appended seq {result.last_seq} at global position {result.position}")
    for event in j.read_all():
        print(event.position, event.stream_id, event.seq, event.type, event.data)
