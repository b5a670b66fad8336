"""The face preview widget: poses the head in place, switches views, wireframe and influence highlight."""

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture()
def view(qtbot):
    from app.ui.face_view import FaceView

    w = FaceView()
    qtbot.addWidget(w)
    w.resize(360, 400)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_set_frame_updates_points_in_place(view, qtbot):
    model = view.model
    mesh = view.scene.meshes["skin"]
    actors_before = set(view.plotter.renderer.actors)
    frame = model.rest_values()
    frame[model.index("CTRL_C_jaw-translateY")] = 0.8
    for k in range(5):                      # a burst of frames is coalesced into one redraw
        view.set_frame(frame * (k + 1) / 5)
    with qtbot.waitSignal(view.frameShown, timeout=3000):
        pass
    assert np.allclose(view.current_frame(), frame)
    assert np.abs(np.asarray(mesh.points) - model.rest["skin"]).max() > 1.0
    assert set(view.plotter.renderer.actors) == actors_before


def test_views_wireframe_and_influence(view):
    for name in ("side", "three-quarter", "front"):
        view.set_view(name)
        assert view.view() == name
    pos = np.array(view.plotter.camera.position)
    assert pos[2] > abs(pos[0])             # front: the camera looks at the face
    view.set_wireframe(True)
    assert view.scene.actors["skin"].prop.style == "Wireframe"
    view.set_wireframe(False)
    view.show_influence("CTRL_L_brow_raiseIn-translateY")
    colors = view.scene.meshes["brows"].point_data["rgb"]
    assert np.abs(colors.astype(int) - view.model.colors["brows"]).max() > 50
    view.show_influence(None)
    assert np.array_equal(view.scene.meshes["brows"].point_data["rgb"], view.model.colors["brows"])
