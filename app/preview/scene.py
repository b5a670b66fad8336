"""Scene set-up shared by the offscreen renderer and the Qt face view: meshes, materials, lights, cameras.

Works on any pyvista Plotter (an offscreen ``pv.Plotter`` or a pyvistaqt ``QtInteractor``). Meshes are created
once; ``HeadScene.update(positions)`` rewrites their points and normals in place, so playback never re-adds actors.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from app.preview.model import HeadModel

BACKGROUND = (0.16, 0.17, 0.19)
FOCAL_POINT = (0.0, -2.5, 4.0)
CAMERA_DISTANCE = 64.0
VIEW_ANGLE_DEG = 24.0
# camera direction (from the focal point) and up vector per preset; +x is the character's left
VIEWS = {
    "front": ((0.0, 0.05, 1.0), (0, 1, 0)),
    "three-quarter": ((0.62, 0.1, 0.78), (0, 1, 0)),
    "side": ((1.0, 0.05, 0.0), (0, 1, 0)),
}
# (specular, specular power, ambient, diffuse) per kind of surface
MATERIALS = {
    "skin": (0.12, 12.0, 0.22, 0.9), "eye": (0.55, 60.0, 0.12, 0.85), "teeth": (0.3, 25.0, 0.18, 0.8),
    "wet": (0.35, 30.0, 0.15, 0.85),
}
PART_MATERIAL = {"eye_L": "eye", "eye_R": "eye", "teeth_upper": "teeth", "teeth_lower": "teeth", "tongue": "wet"}
HIGHLIGHT = np.array([255, 170, 30], np.float32)


def vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (numpy; cheaper than a VTK filter round trip per frame)."""
    v0, v1, v2 = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    fn = np.cross(v1 - v0, v2 - v0)
    n = np.empty_like(points)
    for k in range(3):
        n[:, k] = (np.bincount(faces[:, 0], fn[:, k], len(points)) + np.bincount(faces[:, 1], fn[:, k], len(points))
                   + np.bincount(faces[:, 2], fn[:, k], len(points)))
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


def add_lights(plotter) -> None:
    """Soft three-point lighting that moves with the camera: key upper left, fill right, rim from behind."""
    plotter.remove_all_lights()
    for pos, intensity in (((-1.0, 1.1, 1.4), 1.0), ((1.3, -0.1, 1.0), 0.5), ((0.4, 0.9, -1.6), 0.55),
                           ((0.0, -1.0, 0.6), 0.15)):
        plotter.add_light(pv.Light(position=pos, focal_point=(0, 0, 0), intensity=intensity,
                                   light_type="camera light"))


def set_view(plotter, name: str, zoom: float = 1.0) -> None:
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r} (choose {', '.join(VIEWS)})")
    direction, up = VIEWS[name]
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    focal = np.asarray(FOCAL_POINT)
    plotter.camera.focal_point = tuple(focal)
    plotter.camera.position = tuple(focal + d * CAMERA_DISTANCE / zoom)
    plotter.camera.up = up
    plotter.camera.view_angle = VIEW_ANGLE_DEG
    plotter.reset_camera_clipping_range()


class HeadScene:
    """The head's meshes and actors in one plotter."""

    def __init__(self, plotter, model: HeadModel):
        self.plotter = plotter
        self.model = model
        self.meshes: dict[str, pv.PolyData] = {}
        self.actors = {}
        self._base_colors = {}
        plotter.set_background(BACKGROUND)
        add_lights(plotter)
        for part in model.part_names:
            faces = model.faces[part]
            mesh = pv.PolyData(model.rest[part].copy(), np.hstack([np.full((len(faces), 1), 3), faces]).ravel())
            colors = model.colors[part].astype(np.float32)
            mesh.point_data["rgb"] = colors.astype(np.uint8)
            mesh.point_data["Normals"] = vertex_normals(mesh.points, faces)
            mesh.point_data.active_normals_name = "Normals"
            spec, power, amb, diff = MATERIALS[PART_MATERIAL.get(part, "skin")]
            actor = plotter.add_mesh(mesh, scalars="rgb", rgb=True, specular=spec, specular_power=power,
                                     ambient=amb, diffuse=diff, show_scalar_bar=False, name=part)
            actor.prop.interpolation = "phong"
            self.meshes[part] = mesh
            self.actors[part] = actor
            self._base_colors[part] = colors

    def update(self, positions: dict[str, np.ndarray]) -> None:
        for part, mesh in self.meshes.items():
            pts = positions[part]
            mesh.points[:] = pts
            mesh.point_data["Normals"][:] = vertex_normals(pts, self.model.faces[part])
            mesh.Modified()

    def set_frame(self, values: np.ndarray) -> None:
        self.update(self.model.evaluate(values))

    def set_wireframe(self, on: bool) -> None:
        for actor in self.actors.values():
            actor.prop.style = "wireframe" if on else "surface"

    def highlight(self, influence: dict[str, np.ndarray] | None) -> None:
        """Tint vertices by how far a control moves them (None restores the plain colours)."""
        for part, mesh in self.meshes.items():
            base = self._base_colors[part]
            if influence is None:
                tinted = base
            else:
                amount = influence[part]
                peak = max(float(max(a.max() for a in influence.values())), 1e-6)
                t = np.clip(amount / peak * 1.5, 0, 1)[:, None]
                tinted = base * (1 - t * 0.85) + HIGHLIGHT * t * 0.85
            mesh.point_data["rgb"][:] = np.clip(tinted, 0, 255).astype(np.uint8)
            mesh.Modified()
