# A save that fails with an error (a full flash, a MemoryError on a small heap) leaves the old state:
# nothing that a later load would take for a newer one. The file bytes are encode_state's, streamed.
# Runs on CPython and MicroPython.

from firmware_py.store import Store, encode_state
from tests.core.support import MemFs, raises

PAIRS = [("v", "1"), ("state", "running"), ("log", ("0,1700000000,boot,fresh,1", "1,1700000600,adv,s:600,1"))]


def test_streamed_file_is_encode_state() -> None:
    fs = MemFs()
    st = Store("s", fs)
    for i in range(3):
        pairs = PAIRS + [("n", str(i))]
        st.save(pairs)  # type: ignore[arg-type]
        assert fs.files["s.cur"] == encode_state(i + 1, pairs)  # type: ignore[arg-type]
    assert b"log=0,1700000000,boot,fresh,1;1,1700000600,adv,s:600,1\n" in fs.files["s.cur"]
    assert Store("s", fs).load()["n"] == "2"  # type: ignore[index]


def test_a_value_part_holding_the_separator_is_refused() -> None:
    raises(ValueError, Store("s", MemFs()).save, [("log", ("a;b",))])


def test_failed_save_leaves_the_old_state() -> None:
    # An error at each operation of the save (the write, the renames): the old state stays the newest.
    for op in range(3):
        fs = MemFs()
        good = Store("s", fs)
        good.save(PAIRS + [("n", "old")])  # type: ignore[arg-type]
        good.save(PAIRS + [("n", "old2")])  # type: ignore[arg-type]  # .cur and .old both exist
        st = Store("s", fs)
        assert st.load()["n"] == "old2"  # type: ignore[index]
        fs.ops = 0
        fs.fail_at = op
        fs.failure = MemoryError()
        raises(MemoryError, st.save, PAIRS + [("n", "refused")])
        fs.fail_at = None
        assert Store("s", fs).load()["n"] == "old2", op  # type: ignore[index]
        assert "s.tmp" not in fs.files, op
