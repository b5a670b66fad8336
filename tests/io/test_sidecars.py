"""Transcript and phone files found beside a recording (app/io/sidecars.py)."""

from __future__ import annotations

import pytest

from app.io.sidecars import MAX_TRANSCRIPT_CHARS, find_sidecars, transcript_text

LAB = "0 1000000 sil\n1000000 3000000 m\n3000000 6000000 aa\n6000000 8000000 sil\n"


def test_transcript_and_phone_file_beside_the_audio(tmp_path):
    wav = tmp_path / "line_01.wav"
    wav.write_bytes(b"")
    (tmp_path / "line_01.txt").write_text("\ufeffMaybe we should   move\nbefore the weather gets bad.\n",
                                          encoding="utf-8")
    (tmp_path / "line_01.lab").write_text(LAB)
    (tmp_path / "line_02.txt").write_text("Another line entirely.")
    found = find_sidecars(wav)
    assert found.transcript == "Maybe we should move before the weather gets bad."
    assert found.transcript_path == tmp_path / "line_01.txt" and found.phones_path == tmp_path / "line_01.lab"
    assert found.skipped == []
    alone = find_sidecars(tmp_path / "line_03.wav")
    assert alone.transcript is None and alone.phones_path is None and alone.skipped == []


def test_files_that_are_not_a_transcript_or_phones_are_passed_over_with_a_reason(tmp_path):
    wav = tmp_path / "take.wav"
    # An EmoFace curve export shares the .txt extension: columns of numbers are not a transcript.
    (tmp_path / "take.txt").write_text("\n".join(" ".join(["0.125"] * 174) for _ in range(5)))
    (tmp_path / "take.TextGrid").write_text("this is not a TextGrid")
    found = find_sidecars(wav)
    assert found.transcript is None and found.phones_path is None
    assert len(found.skipped) == 2
    assert "take.txt: does not read as a transcript" in found.skipped[0]
    assert found.skipped[1].startswith("take.TextGrid: ")


@pytest.mark.parametrize(("content", "why"), [
    (b"   \n\t", "is empty"),
    (b"\xff\xfe\x00h\x00i", "is not UTF-8"),
    (("word " * (MAX_TRANSCRIPT_CHARS // 4)).encode(), "too long"),
    (b"12 34 56 78 -- 90", "mostly numbers"),
])
def test_transcript_checks(tmp_path, content, why):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=why):
        transcript_text(path)


def test_transcript_in_any_script(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Сегодня хорошая погода, 2 раза!", encoding="utf-8")
    assert transcript_text(path) == "Сегодня хорошая погода, 2 раза!"
