"""Time the Iquitos dataset: generation of each part, the whole year, writing and loading.

Prints numbers; never fails on a slow machine. Run: ``python benchmarks/bench_dataset.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from _timing import best_of  # benchmarks/: the script's folder is on the path

# run from anywhere: import the package from this checkout (the script's folder comes first on
# sys.path, where the editable install's finder can otherwise resolve a namespace package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    start = time.perf_counter()
    import pvbess.inputs.dataset as ds
    from pvbess.inputs.ev import simulate_ev
    from pvbess.inputs.mall import simulate_mall
    from pvbess.inputs.pvmodel import pv_ac_kwh
    from pvbess.inputs.weather import generate_weather, year_index

    print(f"import pvbess.inputs.dataset + models          {time.perf_counter() - start:8.3f} s")
    start = time.perf_counter()
    ds.generate_iquitos()
    print(f"first generate_iquitos (numba compile?) {time.perf_counter() - start:8.3f} s")

    idx = year_index(2025)
    weather = generate_weather(2025, seed=1)
    print(f"generate_weather (8,760 h)              {best_of(lambda: generate_weather(2025, seed=1), 3)[0]:8.3f} s")
    print(f"pv_ac_kwh (8,760 h)                     {best_of(lambda: pv_ac_kwh(weather), 3)[0]:8.3f} s")
    print(f"simulate_ev (365 days, 1-min queue)     {best_of(lambda: simulate_ev(idx, seed=1), 3)[0]:8.3f} s")
    print(f"simulate_mall (8,760 h)                 {best_of(lambda: simulate_mall(idx, seed=1), 3)[0]:8.3f} s")
    print(f"generate_iquitos (whole year)           {best_of(ds.generate_iquitos, 3)[0]:8.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        frame = ds.generate_iquitos()
        print(f"write_iquitos (given frame)             "
              f"{best_of(lambda: ds.write_iquitos(tmp, frame=frame), 3)[0]:8.3f} s")
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(f"dataset folder size                     {size / 1e6:8.3f} MB")
    print(f"load_iquitos()                          {best_of(ds.load_iquitos, 5)[0]:8.3f} s")
    print(f"load_iquitos(sockets=True)              "
          f"{best_of(lambda: ds.load_iquitos(sockets=True), 5)[0]:8.3f} s")
    print("(best of several runs; the machine is shared, so numbers are noisy)")


if __name__ == "__main__":
    main()
