"""Acceptance of issue 13: random valid and corrupted histories, resumed.

A replay is stopped after a random number of periods; its record is then left alone or
corrupted through a plain sqlite3 connection with the triggers dropped: one value of one row
changed, a row deleted, two rows' values swapped, or a foreign row appended. Every corruption
must be refused on resume with a HistoryError naming the file, every valid record resumed to
exactly the uninterrupted result.

One record cannot be told from an honest one, by design: the last event deleted when nothing
was stored after it is what a kill just before that event was committed leaves. The resume
then records that period again, and the property is that it gives the uninterrupted result.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from record_tamper import OPTIONS, ROW, SITE, raw, rows, set_value

from pvbess import replay
from pvbess.scheduler.events import EVENT_VALUES, HistoryError

N = len(SITE)
CORRUPTIONS = ("value", "delete", "swap", "foreign")


@pytest.fixture(scope="module")
def uninterrupted():
    return replay(SITE, **OPTIONS).balance


def _changed(column: str, old: object, draw) -> object:
    """Another value for one cell: never the same, never a clash with a unique key."""
    if column in EVENT_VALUES:  # one mantissa bit: finite, and always another number
        bits = struct.unpack("<q", struct.pack("<d", old))[0] ^ (1 << draw(st.integers(0, 51)))
        return struct.unpack("<d", struct.pack("<q", bits))[0]
    if column == "hash":
        k = draw(st.integers(0, 255))
        return old[:k // 8] + bytes([old[k // 8] ^ (1 << (k % 8))]) + old[k // 8 + 1:]
    return {"seq": old + N + draw(st.integers(1, 9)) if column == "seq" else None,
            "ts_ns": old + draw(st.integers(1, 10**9)) if column == "ts_ns" else None,
            "period": old + 100 if column == "period" else None,
            "tz": "UTC", "day": "1999-12-31"}[column]


def _corrupt(path: Path, kind: str, draw) -> bool:
    """Apply one corruption; True when the result must be refused."""
    conn = raw(path)
    recorded = rows(conn)
    n = len(recorded)
    if kind == "value":
        row = draw(st.integers(0, n - 1))
        column = draw(st.sampled_from(ROW))
        old = recorded[row][ROW.index(column)]
        set_value(conn, recorded[row][0], column, _changed(column, old, draw))
    elif kind == "delete":
        row = draw(st.integers(0, n - 1))
        conn.execute("DELETE FROM events WHERE seq = ?", (recorded[row][0],))
        later = conn.execute("SELECT count(*) FROM schedules WHERE history_seq = ?",
                             (n,)).fetchone()[0]
        conn.close()
        return not (row == n - 1 and later == 0)  # see the module docstring
    elif kind == "swap":
        i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        for seq, values in ((recorded[i][0], recorded[j][6:]), (recorded[j][0], recorded[i][6:])):
            conn.execute(f"UPDATE events SET {', '.join(f'{c} = ?' for c in EVENT_VALUES)} "
                         "WHERE seq = ?", (*values, seq))
    else:  # a foreign row: the next period or one far outside the data
        ts = SITE.index[n] if n < N and draw(st.booleans()) else \
            SITE.index[-1] + pd.Timedelta(days=draw(st.integers(1, 400)))
        values = list(recorded[-1][6:])
        values[EVENT_VALUES.index("soe_start_kwh")] = values[EVENT_VALUES.index("soe_end_kwh")]
        conn.execute(f"INSERT INTO events ({', '.join(ROW)}) VALUES "
                     f"({', '.join('?' * len(ROW))})",
                     (n + 1, os.urandom(32), ts.value, str(ts.tz), ts.date().isoformat(),
                      ts.hour, *values))
    conn.close()
    return True


@settings(max_examples=20, deadline=None)
@given(stop_after=st.integers(2, N - 1), kind=st.sampled_from((None, *CORRUPTIONS)),
       data=st.data())
def test_every_corruption_is_refused_and_every_valid_record_resumes_exactly(
        uninterrupted, stop_after, kind, data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "record.db"
        replay(SITE, db=path, stop_after=stop_after, **OPTIONS)
        must_refuse = kind is not None and _corrupt(path, kind, data.draw)
        if must_refuse:
            with pytest.raises(HistoryError, match="broken|foreign|outside") as info:
                replay(SITE, db=path, **OPTIONS)
            assert str(path.resolve()) in str(info.value)
        else:
            resumed = replay(SITE, db=path, **OPTIONS)
            assert resumed.complete
            pd.testing.assert_frame_equal(resumed.balance, uninterrupted, check_exact=True)
