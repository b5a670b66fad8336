"""Offscreen rendering of the preview head: single frames, frame sequences, contact sheets and preview movies.

Needs no display: pyvista renders off screen (EGL or OSMesa, whichever VTK was built with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.core.atomic import atomic_path, atomic_write
from app.preview.model import HeadModel

DEFAULT_SIZE = (640, 720)


class RenderError(RuntimeError):
    """Rendering or writing an image/movie failed."""


class FaceRenderer:
    """An offscreen plotter holding the head; reuse it for many frames (creating one costs ~1 s)."""

    def __init__(self, model: HeadModel | None = None, size: tuple[int, int] = DEFAULT_SIZE, view: str = "front",
                 zoom: float = 1.0):
        import pyvista as pv  # noqa: PLC0415 - pyvista/VTK load slowly; only renderers need them

        from app.preview.scene import HeadScene, set_view  # noqa: PLC0415

        self.model = model or HeadModel.load()
        try:
            self.plotter = pv.Plotter(off_screen=True, window_size=list(size))
        except Exception as exc:  # VTK raises plain RuntimeErrors without a usable GL context
            raise RenderError(f"cannot open an offscreen renderer: {exc}") from exc
        self.scene = HeadScene(self.plotter, self.model)
        set_view(self.plotter, view, zoom)

    def set_view(self, view: str, zoom: float = 1.0) -> None:
        from app.preview.scene import set_view  # noqa: PLC0415
        set_view(self.plotter, view, zoom)

    def render(self, values: np.ndarray) -> np.ndarray:
        """One frame (180,) -> (height, width, 3) uint8 image."""
        self.scene.set_frame(values)
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))[..., :3].copy()

    def close(self) -> None:
        self.plotter.close()

    def __enter__(self) -> FaceRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_frames(values: np.ndarray, size: tuple[int, int] = DEFAULT_SIZE, view: str = "front",
                  model: HeadModel | None = None) -> np.ndarray:
    """(N, 180) frames -> (N, height, width, 3) uint8 images."""
    values = np.atleast_2d(np.asarray(values, np.float32))
    with FaceRenderer(model, size, view) as renderer:
        return np.stack([renderer.render(v) for v in values])


def save_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image  # noqa: PLC0415

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        Image.fromarray(image).save(fh, format="PNG")


def contact_sheet(poses: Sequence[tuple[str, np.ndarray]], path: Path, columns: int = 5,
                  cell_size: tuple[int, int] = (320, 360), view: str = "front", zoom: float = 1.2,
                  model: HeadModel | None = None) -> np.ndarray:
    """Render labelled poses (label, (180,) values) into one grid image, save it as PNG and return it."""
    from PIL import Image, ImageDraw  # noqa: PLC0415

    w, h = cell_size
    rows = (len(poses) + columns - 1) // columns
    label_h = 26
    sheet = Image.new("RGB", (columns * w, rows * (h + label_h)), (30, 31, 34))
    draw = ImageDraw.Draw(sheet)
    with FaceRenderer(model, (w, h), view, zoom) as renderer:
        for k, (label, values) in enumerate(poses):
            img = renderer.render(np.asarray(values, np.float32))
            x, y = (k % columns) * w, (k // columns) * (h + label_h)
            sheet.paste(Image.fromarray(img), (x, y + label_h))
            draw.text((x + 8, y + 6), label, fill=(230, 230, 230))
    out = np.asarray(sheet)
    save_png(out, Path(path))
    return out


def write_movie(frames: np.ndarray, path: Path, fps: float, audio_path: Path | None = None,
                size: tuple[int, int] = DEFAULT_SIZE, view: str = "front", model: HeadModel | None = None,
                progress: Callable[[int, int], None] | None = None) -> None:
    """Render (N, 180) frames into an H.264 MP4, muxing the audio file in when given."""
    try:
        import imageio_ffmpeg  # noqa: PLC0415
    except ImportError as exc:
        raise RenderError("writing movies needs the imageio-ffmpeg package (pip install imageio-ffmpeg)") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = (size[0] // 16) * 16, (size[1] // 16) * 16        # H.264 wants multiples of 16
    try:
        with atomic_path(path) as tmp:  # ffmpeg takes a file name (and picks the container by its suffix)
            writer = imageio_ffmpeg.write_frames(
                str(tmp), (width, height), fps=fps, codec="libx264", quality=7, macro_block_size=16,
                audio_path=str(audio_path) if audio_path else None, audio_codec="aac" if audio_path else None,
                output_params=["-shortest"] if audio_path else None, ffmpeg_log_level="error")
            writer.send(None)
            with FaceRenderer(model, (width, height), view) as renderer:
                for i, values in enumerate(np.asarray(frames, np.float32)):
                    writer.send(np.ascontiguousarray(renderer.render(values)))
                    if progress:
                        progress(i + 1, len(frames))
            writer.close()
    except (OSError, RuntimeError) as exc:
        raise RenderError(f"could not write {path}: {exc}") from exc
