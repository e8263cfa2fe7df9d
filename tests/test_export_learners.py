"""Export of real learners' checkpoints after a short run, on the PyBullet tasks where they train: the
policy node (and the generated C) get what the learner learned."""

from __future__ import annotations

import importlib

import gymnasium as gym
import numpy as np
import pytest

from robolearn.cli import main as cli_main
from robolearn.export.runtime import PolicyRuntime
from robolearn.learners.base import Learner
from test_export_toys import DELTA_ID

RUNS = {  # algo: (env, config, env steps, C export)
    "avg": ("robolearn/ArmReach-v0", dict(hidden_size=32, eval_every=0), 60, True),  # position deltas
    "sac": ("robolearn/BaseGoal-v0", dict(hidden_sizes=[32, 32], batch_size=32, learning_starts=20, utd=1,
                                          critic_ensemble=2, demos="none", eval_every=10**6), 40, True),  # twist
    # GroupSort activations have no C kernel: the ONNX file is written, the C refused by layer name.
    "lipbc": (DELTA_ID, dict(hidden_sizes=[16, 16], demo_episodes=2, batch_size=32, bound_starts=8, bound_steps=5,
                             eval_episodes=0), 30, False),
}


@pytest.mark.slow
@pytest.mark.parametrize("algo", sorted(RUNS))
def test_short_run_checkpoint_exports_and_runs_like_the_learner(algo, tmp_path, capsys):
    importlib.import_module(f"robolearn.learners.{algo}")
    learner_cls = Learner.registry[algo]
    env_id, config_values, steps, with_c = RUNS[algo]
    env = gym.make(env_id)
    learner = learner_cls(env, learner_cls.config_class.from_dict(config_values), device="cpu")
    learner.train(steps, progress=False)
    checkpoint = tmp_path / f"{algo}.pt"
    learner.save(checkpoint)

    onnx_path, c_path = tmp_path / f"{algo}.onnx", tmp_path / f"{algo}.c"
    argv = ["export", str(checkpoint), "-o", str(onnx_path), "--parity-samples", "512"]
    code = cli_main(argv + ["--c-out", str(c_path)])
    out = capsys.readouterr()
    if with_c:
        assert code == 0, out.err
        assert c_path.is_file() and "matches onnxruntime" in out.out
    else:
        assert code == 1 and "GroupSort" in out.err and not c_path.exists()

    runtime = PolicyRuntime(onnx_path)
    runtime.check_compatible(env.unwrapped.robot.spec)
    meta = runtime.metadata
    assert meta.algo == algo and meta.task_id == env_id
    if callable(getattr(learner, "certificate", None)):
        assert meta.lipschitz_certificate["upper_bound"] == pytest.approx(learner.certificate()["upper_bound"],
                                                                          rel=1e-6)
    obs, _ = env.reset(seed=3)
    task, spec = env.unwrapped.task, env.unwrapped.robot.spec
    for _ in range(20):
        action, command = runtime.run(obs)
        np.testing.assert_allclose(action, learner.act(obs, deterministic=True), atol=1e-5)
        expected = task.action_to_command(action, env.unwrapped.last_observation, spec)
        np.testing.assert_allclose(command, expected, atol=1e-5 * max(1.0, np.abs(spec.command_high).max()))
        obs, *_ = env.step(action)
    env.close()
