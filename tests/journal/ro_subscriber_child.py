"""Child process: a readonly opener that subscribes to a journal another process writes.

    python ro_subscriber_child.py PATH AFTER MAP_SIZE

Prints "ready <head>" once subscribed, then ``<position> <stream> <seq> <len(data)>`` per event.
When its stdin closes it closes the subscription from another thread, then prints
"done <head> <highest seq of stream 'live'> <events read back from 'live'> <readonly-error>".
"""

from __future__ import annotations

import sys
import threading

import journal

path, after, map_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
j = journal.open(path, readonly=True, map_size=map_size or None)
sub = j.subscribe(after=after)


def close_on_eof() -> None:
    sys.stdin.read()
    sub.close()  # from another thread: the loop below must end


threading.Thread(target=close_on_eof, daemon=True).start()
print(f"ready {j.head()}", flush=True)
for e in sub:
    size = len(e.data) if isinstance(e.data, (str, bytes)) else 0
    print(f"{e.position} {e.stream_id} {e.seq} {size}", flush=True)
try:
    j.append("live", [journal.Event("nope")])
    refused = "wrote"
except journal.ReadOnlyJournal:
    refused = "ReadOnlyJournal"
print(f"done {j.head()} {j.highest_seq('live')} {len(list(j.read('live')))} {refused}", flush=True)
j.close()
