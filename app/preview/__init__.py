"""3D face preview: the stylised head, its deformation by the rig's channels, and offscreen rendering.

Qt-free; the interactive view lives in app.ui.face_view.
"""

from app.preview.geometry import HeadGeometry, HeadGeometryError, load_head_geometry
from app.preview.model import HeadModel, HeadModelError

__all__ = ["HeadGeometry", "HeadGeometryError", "HeadModel", "HeadModelError", "load_head_geometry"]
