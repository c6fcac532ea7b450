"""benchmarks/gait_speed: the speed sweep runs on the shipped towers and reports what docs/BENCHMARKS.md cites."""

from __future__ import annotations

from benchmarks.gait_speed import GAITS, band_names, gait_speed_report, root_speed


def test_root_speed_of_a_straight_line():
    import numpy as np

    joints = np.zeros((21, 22, 3), dtype=np.float32)
    joints[:, 0, 2] = np.arange(21) * 0.1  # 0.1 m per frame forward at 20 fps
    joints[:, 0, 1] = 0.9  # height does not count
    assert abs(root_speed(joints, 20.0) - 2.0) < 1e-5


def test_gait_speed_report_on_a_tiny_sweep(shipped_repository):
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    report = gait_speed_report(TorchScriptEmbedder(shipped_repository), clips_per_gait=2, factors=(0.8, 1.0))
    for key in ("model_id", "motions", "label_speed_mps", "label_accuracy_%", "label_accuracy_by_gait_%", "bands",
                "by_label_and_factor"):
        assert key in report
    assert report["motions"] == 2 * 2 * len(GAITS)
    assert [b["band"] for b in report["bands"]] == band_names()
    assert sum(b["motions"] for b in report["bands"]) == report["motions"]
    medians = [report["label_speed_mps"][g]["median"] for g in GAITS]
    assert all(report["label_speed_mps"][g]["min"] > 0 for g in GAITS)
    assert all(a < b for a, b in zip(medians, medians[1:])), medians  # walk < jog < run < sprint
    for band in report["bands"]:
        if band["motions"]:
            assert abs(sum(band["predicted_%"].values()) - 100.0) < 0.5
    assert 0.0 <= report["label_accuracy_%"] <= 100.0
