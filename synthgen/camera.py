"""The camera: from named parameters to OpenCV intrinsics K and extrinsics R, t
(x_cam = R @ x_world + t; x right, y down, z forward; pixel centres at integer coordinates)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    K: np.ndarray  # (3, 3)
    R: np.ndarray  # (3, 3) world -> camera
    t: np.ndarray  # (3,)
    width: int
    height: int

    @property
    def position(self) -> np.ndarray:
        return -self.R.T @ self.t

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return points @ self.R.T + self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates."""
        p = self.to_camera(points) @ self.K.T
        return p[:, :2] / p[:, 2:3]

    def gl_pose(self) -> np.ndarray:
        """Camera-to-world pose in OpenGL's convention (looking along -Z, Y up), for pyrender."""
        pose = np.eye(4)
        pose[:3, :3] = self.R.T @ np.diag([1.0, -1.0, -1.0])
        pose[:3, 3] = self.position
        return pose


def _rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        return np.eye(3)
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()


def camera_from_params(params: dict, width: int, height: int, target=(0.0, 0.0, 0.0)) -> Camera:
    """Orbit camera around ``target`` (the pelvis): ``camera.yaw`` 0 = in front of the person
    (+Z), positive yaw moves it towards the person's left; ``camera.pitch`` elevation;
    ``camera.roll`` about the optical axis; ``camera.distance`` metres; ``camera.fov``
    vertical field of view; ``camera.offset_x|y`` where the target lands, in half image
    widths / heights from the centre (the camera pans, so truncation is reachable)."""
    g = lambda k, d: float(params.get(f"camera.{k}", d))  # noqa: E731
    yaw, pitch, roll = np.radians([g("yaw", 0.0), g("pitch", 0.0), g("roll", 0.0)])
    dist, fov = g("distance", 3.5), np.radians(g("fov", 45.0))
    target = np.asarray(target, dtype=np.float64)
    pos = target + dist * np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    z = (target - pos) / np.linalg.norm(target - pos)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    c, s = np.cos(roll), np.sin(roll)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
    fy = (height / 2.0) / np.tan(fov / 2.0)
    K = np.array([[fy, 0.0, (width - 1) / 2.0], [0.0, fy, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    ray = np.array([g("offset_x", 0.0) * width / 2.0 / fy, g("offset_y", 0.0) * height / 2.0 / fy, 1.0])
    R = _rotation_taking(np.array([0.0, 0.0, 1.0]), ray) @ R
    return Camera(K, R, -R @ pos, width, height)
