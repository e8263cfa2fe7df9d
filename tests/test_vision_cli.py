"""`robolearn vision ...` end to end: frames recorded from the sim camera, image folders as a robot would
save them, a pretrained encoder that SAC loads frozen, and a reward classifier that labels held-out frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from robolearn.cli import main
from robolearn.data.frames import FrameSet, load_frames, save_frames
from robolearn.learners.encoders import ConvEncoder, load_encoder_weights
from robolearn.learners.reward_classifier import RewardClassifier

SHAPE = (16, 16, 3)


def scene(bright: bool, n: int, seed: int) -> np.ndarray:
    """Frames with noise; success frames carry a bright square whose position varies."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (n, *SHAPE), dtype=np.uint8)
    if bright:
        for frame in frames:
            row, col = rng.integers(0, 10, 2)
            frame[row:row + 6, col:col + 6] = 230
    return frames


def write_folder(folder, frames: np.ndarray, suffix: str = ".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:03d}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def test_record_labels_sim_camera_frames_with_the_tasks_success(tmp_path, capsys):
    out = tmp_path / "frames.npz"
    assert main(["vision", "record", "ArmReach", "--episodes", "2", "--out", str(out)]) == 0
    frames = load_frames(out)
    assert frames.frames.dtype == np.uint8 and frames.frames.shape[1:] == (84, 84, 3)
    success, failure = frames.split()
    # The expert episode reaches the target and stays; the random one does not reach it.
    assert len(success) > 0 and len(failure) > 0
    assert f"{len(frames.frames)} frames" in capsys.readouterr().out


def test_classifier_from_image_folders_separates_held_out_frames(tmp_path, capsys):
    success = write_folder(tmp_path / "success", scene(True, 40, seed=1))
    failure = write_folder(tmp_path / "failure", scene(False, 40, seed=2), suffix=".jpg")
    out = tmp_path / "classifier.pt"
    assert main(["vision", "train-classifier", "--success", str(success), "--failure", str(failure),
                 "--out", str(out), "--iterations", "150"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    classifier = RewardClassifier.load(out)
    assert (classifier.success_probability(scene(True, 30, seed=3)) >= 0.5).mean() >= 0.9
    assert (classifier.success_probability(scene(False, 30, seed=4)) < 0.5).mean() >= 0.9


def test_classifier_from_a_labelled_npz(tmp_path):
    frames = np.concatenate([scene(True, 30, seed=5), scene(False, 30, seed=6)])
    labels = np.arange(60) < 30
    path = save_frames(tmp_path / "labelled.npz", FrameSet(frames, labels))
    out = tmp_path / "classifier.pt"
    assert main(["vision", "train-classifier", "--labelled", str(path), "--out", str(out),
                 "--iterations", "150"]) == 0
    classifier = RewardClassifier.load(out)
    assert (classifier.success_probability(scene(True, 30, seed=7)) >= 0.5).mean() >= 0.9


def test_pretrained_encoder_loads_frozen_and_reconstruction_improved(tmp_path, capsys):
    folder = write_folder(tmp_path / "robot_frames", scene(True, 20, seed=8))
    npz = save_frames(tmp_path / "sim.npz", FrameSet(scene(False, 20, seed=9)))
    out = tmp_path / "encoder.pt"
    assert main(["vision", "pretrain-encoder", "--frames", str(folder), "--frames", str(npz), "--out", str(out),
                 "--feature-dim", "8", "--iterations", "150"]) == 0
    printed = capsys.readouterr().out
    first, last = (float(x) for x in printed.split("reconstruction loss ")[1].split(";")[0].split(" -> "))
    assert last < 0.6 * first
    encoder = ConvEncoder(SHAPE, 8)
    before = [p.detach().clone() for p in encoder.parameters()]
    load_encoder_weights(encoder, out)
    assert any(not torch.equal(b, p) for b, p in zip(before, encoder.parameters()))


@pytest.mark.parametrize("case, expected", [
    ("missing", "do not exist"),
    ("mixed_sizes", "differ in size"),
    ("no_frames_key", "no 'frames' array"),
    ("unlabelled", "no success labels"),
    ("both_inputs", "not both"),
    ("one_side_only", "give --labelled"),
    ("empty_folder", "holds no"),
])
def test_bad_frame_inputs_fail_with_a_clear_message(tmp_path, capsys, case, expected):
    out = str(tmp_path / "classifier.pt")
    npz_unlabelled = save_frames(tmp_path / "plain.npz", FrameSet(scene(False, 4, seed=0)))
    if case == "missing":
        argv = ["--success", str(tmp_path / "nope"), "--failure", str(npz_unlabelled)]
    elif case == "mixed_sizes":
        folder = write_folder(tmp_path / "mixed", scene(True, 2, seed=0))
        cv2.imwrite(str(folder / "big.png"), np.zeros((32, 32, 3), np.uint8))
        argv = ["--success", str(folder), "--failure", str(npz_unlabelled)]
    elif case == "no_frames_key":
        np.savez(tmp_path / "other.npz", images=np.zeros((2, *SHAPE), np.uint8))
        argv = ["--success", str(tmp_path / "other.npz"), "--failure", str(npz_unlabelled)]
    elif case == "unlabelled":
        argv = ["--labelled", str(npz_unlabelled)]
    elif case == "both_inputs":
        argv = ["--labelled", str(npz_unlabelled), "--success", str(npz_unlabelled)]
    elif case == "one_side_only":
        argv = ["--success", str(npz_unlabelled)]
    else:
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "notes.txt").write_text("not an image")
        argv = ["--success", str(tmp_path / "empty"), "--failure", str(npz_unlabelled)]
    assert main(["vision", "train-classifier", *argv, "--out", out, "--iterations", "1"]) == 1
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "classifier.pt").exists()


def test_recorded_frames_feed_a_frozen_encoder_and_a_classifier_reward_in_pixel_sac(tmp_path):
    frames, encoder, classifier = tmp_path / "frames.npz", tmp_path / "encoder.pt", tmp_path / "classifier.pt"
    assert main(["vision", "record", "ArmReach", "--episodes", "2", "--out", str(frames)]) == 0
    assert main(["vision", "pretrain-encoder", "--frames", str(frames), "--out", str(encoder), "--feature-dim", "8",
                 "--iterations", "3"]) == 0
    assert main(["vision", "train-classifier", "--labelled", str(frames), "--out", str(classifier),
                 "--iterations", "3"]) == 0
    config = tmp_path / "pixels.yaml"
    config.write_text(f"critic_ensemble: 2\nhidden_sizes: [32, 32]\nbatch_size: 8\nutd: 1\nlearning_starts: 40\n"
                      f"demos: none\nimage_feature_dim: 8\nencoder: frozen\nencoder_weights: {encoder}\n")
    run_dir = tmp_path / "run"
    assert main(["train", "ArmReach", "--algo", "sac", "--image", "--reward-classifier", str(classifier),
                 "--config", str(config), "--steps", "60", "--run-dir", str(run_dir), "--eval-episodes", "1",
                 "--no-progress"]) == 0
    assert (run_dir / "checkpoint.pt").is_file()


def test_command_help_shows_the_modules_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["vision", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "train-classifier" in printed
    assert "robolearn vision record ArmReach --episodes 20" in printed.split("Examples:")[1]
