"""bench/bench_avg.py reach-time: SB3 SAC gets the wall-clock AVG used, chunk by chunk, and both are scored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("pybullet")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_avg.py"


def test_reach_time_gives_sb3_the_same_wall_clock_as_avg(tmp_path):
    out = tmp_path / "report.json"
    subprocess.run([sys.executable, str(BENCH), "reach-time", "--budget", "400", "--chunks", "2",
                    "--episodes", "1", "--seeds", "0", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    report = json.loads(out.read_text())["reach_equal_time"]
    avg, sac = report["per_seed"]["avg"], report["per_seed"]["sac"]
    assert avg["steps"] == [400]
    assert sac["steps"][0] > 0
    # SB3 stops at its first env step past AVG's time for each chunk: never short of it, and over by no
    # more than a step or two per chunk (generous for a loaded machine).
    assert avg["seconds"][0] <= sac["seconds"][0] <= avg["seconds"][0] + 2.0
    refs = report["reference_returns"]
    assert refs["expert"] > refs["random"]
    for name in ("avg", "sac"):
        assert report["final_normalised_iqm"][name]["iqm"] == pytest.approx(report["per_seed"][name]["normalised"][0])
