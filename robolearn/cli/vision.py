"""`robolearn vision record|pretrain-encoder|train-classifier`: the camera side of SAC from pixels.

Examples:
    robolearn vision record ArmReach --episodes 20 --out runs/vision/reach_frames.npz
    robolearn vision pretrain-encoder --frames runs/vision/reach_frames.npz --out runs/vision/encoder.pt
    robolearn vision train-classifier --labelled runs/vision/reach_frames.npz --out runs/vision/classifier.pt
    robolearn vision train-classifier --success frames/success --failure frames/failure --out classifier.pt

Frames are an .npz (`frames` uint8 [N, H, W, C], optional `success` bool [N]) or a folder of images.
Use the encoder with SAC by `encoder: frozen` and `encoder_weights: <file>` in its config, and the
classifier with `robolearn train <task> --image --reward-classifier <file>`.
"""

from __future__ import annotations

import argparse

import numpy as np

from robolearn.data.frames import FrameSet, load_frames, record_task_frames, save_frames
from robolearn.learners.base import seed_everything


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="{record,pretrain-encoder,train-classifier}")
    record = sub.add_parser("record", help="camera frames of a sim task, labelled by its success signal")
    record.add_argument("task", help="task id or short name (robolearn/ArmReach-v0 or ArmReach)")
    record.add_argument("--out", required=True, help="output .npz")
    record.add_argument("--episodes", type=int, default=20, help="episodes, alternately expert and random")
    record.add_argument("--seed", type=int, default=0)

    pretrain = sub.add_parser("pretrain-encoder", help="self-supervised encoder pretraining on frames")
    pretrain.add_argument("--frames", required=True, action="append",
                          help=".npz or image folder (repeat to combine several)")
    pretrain.add_argument("--out", required=True, help="encoder weights file")
    pretrain.add_argument("--feature-dim", type=int, default=50, help="must match SAC's image_feature_dim")
    pretrain.add_argument("--iterations", type=int, default=500)
    pretrain.add_argument("--seed", type=int, default=0)

    classifier = sub.add_parser("train-classifier", help="binary success classifier from labelled frames")
    classifier.add_argument("--labelled", help=".npz with success labels (from `record`)")
    classifier.add_argument("--success", help="success frames: .npz or image folder")
    classifier.add_argument("--failure", help="failure frames: .npz or image folder")
    classifier.add_argument("--out", required=True, help="classifier file")
    classifier.add_argument("--iterations", type=int, default=100)
    classifier.add_argument("--holdout", type=float, default=0.2, help="share of frames kept out to measure accuracy")
    classifier.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    return {"record": _record, "pretrain-encoder": _pretrain, "train-classifier": _train_classifier}[args.what](args)


def _record(args: argparse.Namespace) -> int:
    from robolearn.training import make_env

    env = make_env(args.task, image=True)
    try:
        frame_set = record_task_frames(env, args.episodes, args.seed)
    finally:
        env.close()
    path = save_frames(args.out, frame_set)
    print(f"{len(frame_set.frames)} frames {frame_set.image_shape}, {int(frame_set.success.sum())} labelled "
          f"success -> {path}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from robolearn.learners.encoders import ConvEncoder, pretrain_encoder, save_encoder_weights

    frames = _same_shape([load_frames(path) for path in args.frames], args.frames)
    seed_everything(args.seed)  # the network's initial weights and dropout come from the global RNGs
    encoder = ConvEncoder(frames.shape[1:], args.feature_dim)
    losses = pretrain_encoder(encoder, frames, iterations=args.iterations, seed=args.seed)
    save_encoder_weights(encoder, args.out)
    window = max(1, min(20, len(losses) // 5))
    print(f"pretrained on {len(frames)} frames {frames.shape[1:]}: reconstruction loss "
          f"{np.mean(losses[:window]):.4f} -> {np.mean(losses[-window:]):.4f}; weights -> {args.out}\n"
          f"use with SAC: encoder: frozen, encoder_weights: {args.out}, image_feature_dim: {args.feature_dim}")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from robolearn.learners.reward_classifier import RewardClassifier

    if args.labelled and (args.success or args.failure):
        raise ValueError("give either --labelled or --success with --failure, not both")
    if args.labelled:
        success, failure = load_frames(args.labelled).split()
    elif args.success and args.failure:
        success, failure = load_frames(args.success).frames, load_frames(args.failure).frames
    else:
        raise ValueError("give --labelled frames.npz, or both --success and --failure")
    for name, frames in (("success", success), ("failure", failure)):
        if len(frames) < 2:
            raise ValueError(f"only {len(frames)} {name} frames: record at least a few of each label")
    if not 0.0 <= args.holdout < 1.0:
        raise ValueError(f"--holdout must be in [0, 1), got {args.holdout}")
    rng = np.random.default_rng(args.seed)
    (success_train, success_test), (failure_train, failure_test) = (
        _holdout_split(frames, args.holdout, rng) for frames in (success, failure))
    seed_everything(args.seed)  # the network's initial weights and dropout come from the global RNGs
    classifier = RewardClassifier(success.shape[1:])
    losses = classifier.fit(success_train, failure_train, iterations=args.iterations, seed=args.seed)
    classifier.save(args.out)
    print(f"trained on {len(success_train)} success / {len(failure_train)} failure frames: BCE "
          f"{losses[0]:.3f} -> {losses[-1]:.3f}; classifier -> {args.out}")
    if len(success_test) and len(failure_test):
        hits_success = classifier.success_probability(success_test) >= 0.5
        hits_failure = classifier.success_probability(failure_test) < 0.5
        print(f"held-out accuracy: success {hits_success.mean():.2f} ({len(success_test)} frames), "
              f"failure {hits_failure.mean():.2f} ({len(failure_test)} frames)")
    return 0


def _same_shape(sets: list[FrameSet], names: list[str]) -> np.ndarray:
    shapes = {s.image_shape for s in sets}
    if len(shapes) > 1:
        raise ValueError(f"frame sets {names} differ in image size: {sorted(shapes)}")
    return np.concatenate([s.frames for s in sets])


def _holdout_split(frames: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(frames))
    n_test = int(len(frames) * share) if len(frames) > 2 else 0
    return frames[order[n_test:]], frames[order[:n_test]]
