"""robolearn: train robot policies in PyBullet, keep learning on hardware under ROS 2, deploy as ONNX."""

__version__ = "0.1.0"


def _register_envs() -> None:
    # Registration only records names and entry points; PyBullet is imported when an env is made. A robot-side
    # install (no `learn` extra) has no gymnasium: the deploy path never needs the envs, so skip them there.
    try:
        from robolearn.envs.registry import register_all
    except ModuleNotFoundError as exc:
        if exc.name != "gymnasium":
            raise
        return

    register_all()


_register_envs()
