"""Task files a user hands in: binary, lone surrogates, empty questions are one-line errors."""

import pytest

from latentspace import LatentspaceError
from latentspace.tasks import load_items


@pytest.mark.parametrize("name,data,needle", [
    ("binary.jsonl", b'\xff\xfe{"question": "q", "answer": "a"}\n', "not UTF-8"),
    ("binary.json", b"\x80[]", "not UTF-8"),
    ("surrogate.jsonl", b'{"question": "q \\ud800", "answer": "a"}\n', "surrogate"),
    ("surrogate.json", b'[{"question": "q", "answer": "a", "steps": ["\\udfff"]}]', "surrogate"),
    ("empty.jsonl", b'{"question": "  ", "answer": "a"}\n', "empty question"),
    ("list.jsonl", b'[1, 2]\n', "expected"),
    ("nothing.jsonl", b"\n\n", "holds no items"),
])
def test_bad_task_files_are_one_line_errors(tmp_path, name, data, needle):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LatentspaceError, match=needle) as err:
        load_items(path)
    assert "\n" not in str(err.value)


def test_a_folder_or_a_missing_file_is_refused(tmp_path):
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(LatentspaceError, match="is a folder"):
        load_items(tmp_path / "d.jsonl")
    with pytest.raises(LatentspaceError, match="no task file"):
        load_items(tmp_path / "none.jsonl")
