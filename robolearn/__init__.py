"""robolearn: train robot policies in PyBullet, keep learning on hardware under ROS 2, deploy as ONNX."""

__version__ = "0.1.0"


def _register_envs() -> None:
    # Registration only records names and entry points; PyBullet is imported when an env is made.
    from robolearn.envs.registry import register_all

    register_all()


_register_envs()
