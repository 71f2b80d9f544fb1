"""A second writer in the same process is refused with a message that says it is this process
(issue 14 item 14; the README says the same)."""

from __future__ import annotations

import os

import pytest

import journal


def test_a_second_writer_in_this_process_is_refused_naming_this_process(tmp_path) -> None:
    path = tmp_path / "j"
    with journal.open(path) as first:
        with pytest.raises(journal.JournalLocked, match=f"already open for writing in this process \\(pid {os.getpid()}\\)") as info:
            journal.open(path)
        assert "share that Journal object" in str(info.value)
        with journal.open(path, readonly=True) as reader:  # readers share the process's environment
            first.append("s", [journal.Event("e", {})])
            assert [e.type for e in reader.read("s")] == ["e"]
    with journal.open(path) as again:  # once closed, the directory can be opened for writing again
        assert again.highest_seq("s") == 1
