"""Timing of the loaders on synthetic one-year files (prints numbers; not a test).

Run: .venv/bin/python benchmarks/bench_loaders.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from pvbess.inputs.loaders import read_energy_csv, read_meter_csv, to_hourly
from _timing import best_of  # benchmarks/: the script's folder is on the path


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
            t_read = best_of(lambda: read_meter_csv(path))[0]
            t_hour = best_of(lambda: to_hourly(series))[0]
            print(f"{minutes:>2}-min meter file, {len(stamps):>7,} rows: read_meter_csv "
                  f"{t_read * 1e3:7.1f} ms, to_hourly {t_hour * 1e3:6.1f} ms")
        stamps = pd.date_range("2024-01-01", "2025-01-01", freq="15min", inclusive="left")
        frame = pd.DataFrame(rng.uniform(0, 3000, (len(stamps), 4)).round(3),
                             columns=["pv_kw", "load_kw", "ev_kw", "grid_kw"])
        frame.insert(0, "time", stamps.strftime("%Y-%m-%d %H:%M:%S"))
        path = Path(folder) / "energy.csv"
        frame.to_csv(path, index=False)
        t_read = best_of(lambda: read_energy_csv(path, label="start"))[0]
        print(f"15-min energy file, 4 kW columns, {len(stamps):,} rows: read_energy_csv "
              f"{t_read * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
