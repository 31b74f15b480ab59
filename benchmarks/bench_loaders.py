"""Timing of the loaders on synthetic one-year files (prints numbers; not a test).

Run: .venv/bin/python benchmarks/bench_loaders.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pvbess.inputs.loaders import read_energy_csv, read_meter_csv, to_hourly


def _best(fn, *args, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for minutes in (15, 5, 1):
            stamps = pd.date_range("2024-01-01", "2025-01-01", freq=f"{minutes}min",
                                   inclusive="right")
            kwh = rng.integers(0, 700, len(stamps))
            text = "FECHAHORA;kWh\n" + "\n".join(
                f"{t.day}/{t:%m/%Y} {t.hour}:{t:%M};{v}" for t, v in zip(stamps, kwh))
            path = Path(folder) / f"meter_{minutes}min.csv"
            path.write_bytes(b"\xef\xbb\xbf" + text.encode())
            series = read_meter_csv(path)
            t_read = _best(read_meter_csv, path)
            t_hour = _best(to_hourly, series)
            print(f"{minutes:>2}-min meter file, {len(stamps):>7,} rows: read_meter_csv "
                  f"{t_read * 1e3:7.1f} ms, to_hourly {t_hour * 1e3:6.1f} ms")
        stamps = pd.date_range("2024-01-01", "2025-01-01", freq="15min", inclusive="left")
        frame = pd.DataFrame(rng.uniform(0, 3000, (len(stamps), 4)).round(3),
                             columns=["pv_kw", "load_kw", "ev_kw", "grid_kw"])
        frame.insert(0, "time", stamps.strftime("%Y-%m-%d %H:%M:%S"))
        path = Path(folder) / "energy.csv"
        frame.to_csv(path, index=False)
        t_read = _best(lambda p: read_energy_csv(p, label="start"), path)
        print(f"15-min energy file, 4 kW columns, {len(stamps):,} rows: read_energy_csv "
              f"{t_read * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
