"""Build the stylised preview head and store it in ``head.npz`` beside this script.

Run once after changing the shapes:  /work/venv/bin/python resources/head/build_head.py

The head is modelled as signed distance functions (ellipsoids, capsules and rounded boxes blended with smooth
unions), contoured with VTK's flying edges, decimated and smoothed. Units are centimetres; +x is the character's
left, +y up, +z forward (the face looks down +z). Each part is stored separately with per-vertex colours; the skin
also carries per-vertex weights the deformation model needs (jaw weight, upper/lower lip masks) because those
depend on which side of the mouth slit a vertex was built on, which its sealed rest position no longer shows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyvista as pv

OUT_PATH = Path(__file__).with_name("head.npz")
FORMAT_VERSION = 1

# ---- landmarks (cm) shared by the shapes below and stored for the deformation model -------------------------
MOUTH_Y = -6.6            # mouth line height at the centre
MOUTH_CURVE = 0.035       # mouth line rises by this * x^2 towards the corners
MOUTH_WRAP = 0.12         # the lips wrap back by this * x^2 around the muzzle
MOUTH_CORNER_X = 2.45
SLIT_HALF = 0.15          # half height of the modelled mouth slit, closed again by the seal step
LIP_FRONT_Z = 10.0
EYE_X, EYE_Y, EYE_Z, EYE_R = 3.2, 0.35, 7.45, 1.2
LID_R_IN, LID_R_OUT = 1.27, 1.37
LID_SHADE = 0.93
UPPER_LID_DEG, LOWER_LID_DEG, EYE_TILT_DEG = 20.0, -24.0, 5.0
JAW_HINGE = (0.0, -1.6, 0.3)
NECK_PIVOT = (0.0, -6.5, -1.8)
TEETH_FRONT_Z = 8.6
CAVITY_C, CAVITY_R = (0.0, -6.75, 5.6), (3.0, 1.6, 3.35)

SKIN = np.array([0.87, 0.69, 0.59])
HAIR = np.array([0.20, 0.14, 0.10])
LIP = np.array([0.74, 0.45, 0.42])
MOUTH_INSIDE = np.array([0.36, 0.13, 0.13])
BROW = np.array([0.29, 0.20, 0.15])
TOOTH = np.array([0.95, 0.93, 0.86])
GUM = np.array([0.80, 0.45, 0.45])
TONGUE = np.array([0.80, 0.42, 0.42])
SCLERA = np.array([0.95, 0.94, 0.91])
IRIS = np.array([0.33, 0.45, 0.55])
IRIS_RIM = np.array([0.17, 0.22, 0.28])
PUPIL = np.array([0.03, 0.03, 0.04])


# ---- SDF helpers (all vectorised over (n,3) float32 arrays) -------------------------------------------------
def smin(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def smax(a, b, k):
    return -smin(-a, -b, k)


def ellipsoid(p, c, r):
    q = (p - np.asarray(c, np.float32)) / np.asarray(r, np.float32)
    k0 = np.linalg.norm(q, axis=1)
    k1 = np.linalg.norm(q / np.asarray(r, np.float32), axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def capsule(p, a, b, ra, rb=None):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    rb = ra if rb is None else rb
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - (ra + (rb - ra) * t)


def round_box(q, half, radius):
    d = np.abs(q) - (np.asarray(half, np.float32) - radius)
    outside = np.linalg.norm(np.maximum(d, 0.0), axis=1)
    return outside + np.minimum(d.max(axis=1), 0.0) - radius


def mouth_y(x):
    return MOUTH_Y + MOUTH_CURVE * x * x


def mouth_frame(p):
    """Coordinates bent along the mouth line, so lips and slit follow its curve and wrap."""
    q = p.copy()
    q[:, 1] = p[:, 1] - (mouth_y(p[:, 0]) - MOUTH_Y)
    q[:, 2] = p[:, 2] + MOUTH_WRAP * p[:, 0] ** 2
    return q


def mirrored(p):
    q = p.copy()
    q[:, 0] = np.abs(q[:, 0])
    return q


# ---- the skin -----------------------------------------------------------------------------------------------
# The face is lofted: at each height y its horizontal section is an ellipse with half-width A, centre depth ZC, and
# separate front and back half-depths, read from this profile table. One smooth surface for cheeks, jaw and chin
# (instead of blended blobs) keeps the lower face free of lumps; the features are added on top of it.
#                     y      A     ZC   front  back
FACE_PROFILE = np.array([
    (-11.6, 1.2, 6.4, 1.8, 1.0),
    (-11.0, 2.8, 5.0, 3.6, 2.6),
    (-10.1, 4.4, 3.0, 5.7, 3.0),
    (-8.8, 5.2, 1.2, 7.4, 1.9),
    (-6.8, 5.8, 0.6, 8.1, 2.4),
    (-5.0, 6.3, 0.2, 8.4, 3.6),
    (-3.0, 6.6, 0.0, 8.4, 5.0),
    (-1.0, 6.8, 0.0, 8.3, 7.0),
    (1.0, 6.9, 0.0, 8.1, 8.0),
    (2.5, 6.9, 0.0, 7.8, 8.0),
], np.float32)
JAW_LINE = (-8.8, -0.36)      # the underside of the jaw: y = a + b * z (chin low in front, rising to the angle)
# hairline height against depth (z, y): high over the forehead, above the ears, down to the nape
HAIRLINE = np.array([(-10.5, -3.6), (-7.0, -1.6), (-4.0, 1.6), (-1.0, 3.0), (2.0, 3.4), (5.0, 5.0), (8.0, 6.4)],
                    np.float32)
HAIR_THICKNESS = 0.28
FRONT_FLATNESS = 3.0          # superellipse exponent of the face's front half


def face_loft(p):
    y = np.clip(p[:, 1], FACE_PROFILE[0, 0], FACE_PROFILE[-1, 0])
    a, zc, front, back = (np.interp(y, FACE_PROFILE[:, 0], FACE_PROFILE[:, k]) for k in range(1, 5))
    dz = p[:, 2] - zc
    c = np.where(dz > 0, front, back)
    n = np.where(dz > 0, FRONT_FLATNESS, 2.0)                 # a broad front plane, a rounder back
    r = (np.abs(p[:, 0] / a) ** n + np.abs(dz / c) ** n) ** (1.0 / n)
    d = (r - 1.0) * np.minimum(a, c)
    d = smax(d, JAW_LINE[0] + JAW_LINE[1] * p[:, 2] - p[:, 1], 0.7)       # clean jaw line underneath
    return smax(d, p[:, 1] - 2.5, 1.5)                                      # the cranium takes over above


def ear_zone(p):
    return np.exp(-(((np.abs(p[:, 0]) - 7.2) / 0.8) ** 2 + ((p[:, 1] + 0.9) / 2.6) ** 2 + ((p[:, 2] + 1.3) / 1.8) ** 2))


def hairline_y(z):
    return np.interp(z, HAIRLINE[:, 0], HAIRLINE[:, 1])


def cranium(p, grow=0.0):
    radii = np.array([7.1, 8.2, 9.4], np.float32) + np.asarray(grow, np.float32)[..., None]
    return ellipsoid(p, (0, 2.4, -0.7), radii)


def eye_local(m):
    """Mirrored points in the left eye's tilted frame (origin at the eye centre)."""
    return (m - np.array([EYE_X, EYE_Y, EYE_Z], np.float32)) @ lid_frame(1)


def skin_sdf(p, with_mouth=True, with_hair=True):
    m = mirrored(p)
    d = smin(cranium(p), face_loft(p), 1.6)
    d = smin(d, ellipsoid(m, (4.3, -1.3, 5.7), (1.9, 1.0, 1.8)), 1.1)         # cheekbone, kept subtle
    d = smin(d, ellipsoid(p, (0, -6.1, 6.9), (3.2, 2.7, 2.85)), 1.3)         # muzzle over the teeth
    d = smin(d, ellipsoid(p, (0, -9.85, 7.5), (1.9, 1.25, 1.35)), 0.9)       # chin boss
    d = smax(d, -ellipsoid(p, (0, -8.25, 9.6), (1.6, 0.42, 0.6)), 0.6)      # groove under the lower lip
    brow = p.copy()
    brow[:, 2] = p[:, 2] + 0.09 * p[:, 0] ** 2
    d = smin(d, ellipsoid(brow, (0, 2.05, 7.75), (5.2, 1.05, 1.4)), 1.0)     # brow ridge
    # the skin over each eyeball, blended into brow and cheek, then opened in an almond shape
    e = eye_local(m)
    d = smin(d, np.linalg.norm(e, axis=1) - LID_R_OUT - 0.07, 1.0)
    nose = capsule(p, (0, 0.9, 8.85), (0, -3.0, 10.6), 0.62, 0.82)
    nose = smin(nose, ellipsoid(p, (0, -3.45, 10.75), (0.95, 0.85, 0.9)), 0.4)
    nose = smin(nose, ellipsoid(m, (1.05, -3.85, 9.75), (0.55, 0.5, 0.62)), 0.6)
    d = smin(d, nose, 0.45)
    d = smax(d, -ellipsoid(m, (0.55, -4.3, 10.1), (0.3, 0.18, 0.42)), 0.12)    # nostrils
    # lips, bent along the mouth line
    q = mouth_frame(p)
    lips = ellipsoid(q, (0, MOUTH_Y + 0.5, 9.45), (2.3, 0.62, 0.7))
    lips = smin(lips, ellipsoid(q, (0, MOUTH_Y + 0.32, 9.8), (0.5, 0.3, 0.35)), 0.2)  # tubercle
    lips = smin(lips, ellipsoid(q, (0, MOUTH_Y - 0.55, 9.3), (1.95, 0.62, 0.72)), 0.3)
    d = smin(d, lips, 0.35)
    # ears
    ea = m.copy()
    ea[:, 1] -= 0.25 * (ea[:, 2] + 1.2)                                      # lean the ears back a little
    ear = ellipsoid(ea, (7.0, -0.9, -1.3), (0.55, 2.9, 1.7))
    ear = smax(ear, -ellipsoid(ea, (7.5, -1.1, -1.2), (0.38, 1.65, 0.95)), 0.25)
    d = smin(d, ear, 0.35)
    if with_hair:   # short cropped hair: a thin cap over the cranium above the hairline
        grow = HAIR_THICKNESS * smoothstep(0.0, 1.2, p[:, 1] - hairline_y(p[:, 2]))   # thins out at the hairline
        d = np.minimum(d, cranium(p, grow))
    # neck and a short bust base cut flat
    d = smin(d, capsule(p, (0, -6.0, -1.9), (0, -19.0, -1.2), 4.9), 1.3)
    d = smin(d, ellipsoid(p, (0, -21.5, -1.8), (10.5, 3.6, 6.8)), 2.5)
    d = smax(d, -(p[:, 1] + 22.3), 0.5)
    # eye openings, a little larger than the lids' outer shell so the lids tuck under the skin
    d = smax(d, -ellipsoid(e, (0.0, 0.02, 1.3), (1.3, 0.95, 1.45)), 0.22)
    if with_mouth:
        d = smax(d, -ellipsoid(p, CAVITY_C, CAVITY_R), 0.3)
        slit = round_box(q - np.array([0, MOUTH_Y, 10.0], np.float32), (MOUTH_CORNER_X, SLIT_HALF, 2.6), 0.14)
        d = smax(d, -slit, 0.06)
    return d


def contour(sdf, lo, hi, step, chunk=400_000, largest=True):
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    dims = np.ceil((hi - lo) / step).astype(int) + 1
    grid = pv.ImageData(dimensions=dims, spacing=(step,) * 3, origin=lo)
    pts = np.asarray(grid.points, np.float32)
    vals = np.empty(len(pts), np.float32)
    for s in range(0, len(pts), chunk):
        vals[s:s + chunk] = sdf(pts[s:s + chunk])
    grid.point_data["d"] = vals
    surf = grid.contour([0.0], scalars="d", method="flying_edges").clean().triangulate()
    surf.clear_data()
    if largest:
        surf = surf.connectivity("largest")
    # rebuild a plain triangle mesh (connectivity leaves region arrays and may keep stray cells behind)
    tris = surf.triangulate()
    faces = tris.faces.reshape(-1, 4)
    faces = faces[faces[:, 0] == 3]
    return pv.PolyData(np.asarray(tris.points), faces.ravel()).clean()


def finish(mesh, reduction, smooth_iter=20):
    if reduction > 0:
        mesh = mesh.decimate(reduction, volume_preservation=True)
    mesh = mesh.smooth_taubin(n_iter=smooth_iter, pass_band=0.08)
    return mesh.clean()


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def build_skin():
    mesh = finish(contour(skin_sdf, (-9, -22.6, -11.5), (9, 12, 12.5), 0.13), 0.88)
    p = np.asarray(mesh.points, np.float32).copy()
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    dy = y - mouth_y(x)
    ax = np.abs(x)
    in_mouth = (1 - smoothstep(MOUTH_CORNER_X - 0.2, MOUTH_CORNER_X + 0.5, ax)) * smoothstep(6.6, 7.8, z)
    # jaw weight: the lower face below a line from the mouth corners towards the jaw hinge
    corner_y = mouth_y(MOUTH_CORNER_X)
    line_y = np.where(ax < MOUTH_CORNER_X, mouth_y(np.minimum(ax, MOUTH_CORNER_X)),
                      corner_y + (ax - MOUTH_CORNER_X) * (-3.0 - corner_y) / (6.5 - MOUTH_CORNER_X))
    w_soft = smoothstep(-0.3, 1.8, line_y - y)
    hard = (dy <= 0).astype(np.float32)
    c = 1 - smoothstep(MOUTH_CORNER_X - 0.1, MOUTH_CORNER_X + 0.8, ax)
    inside = z > 6.0
    w = np.where(inside | (c > 0), c * hard + (1 - c) * w_soft, w_soft)
    # fade towards the throat (below the jaw line) and towards the hinge behind the cheek
    under = y - (JAW_LINE[0] + JAW_LINE[1] * z)
    w = smooth_over_mesh(mesh, w, keep=(c > 0) & inside, iterations=6)
    w *= smoothstep(-3.2, 0.2, under) * smoothstep(-1.0, 2.0, z) * smoothstep(-2.0, -3.0, y)
    # seal the modelled slit so the lips meet at rest
    g, band = SLIT_HALF, 0.5
    ad = np.abs(dy)
    shift = np.where(ad > g, g * (1 - smoothstep(g, g + band, ad)), ad)
    seal = (1 - smoothstep(MOUTH_CORNER_X - 0.35, MOUTH_CORNER_X + 0.05, ax)) * smoothstep(7.2, 8.0, z)
    p[:, 1] -= np.sign(dy) * shift * seal
    mesh.points = p
    colors = skin_colors(mesh, np.asarray(mesh.points), dy, in_mouth)
    extras = {"jaw_weight": w, "mouth_dy": dy}
    return mesh, colors, extras


def smooth_over_mesh(mesh, values, keep, iterations):
    """Average a per-vertex value with its neighbours (vertices in ``keep`` hold theirs): removes the sharp steps
    in a weight that show up as shading streaks once the mesh is stretched by it."""
    faces = mesh.faces.reshape(-1, 4)[:, 1:]
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    counts = np.bincount(i, minlength=len(values)).astype(np.float64)
    v = np.asarray(values, np.float64)
    for _ in range(iterations):
        avg = np.bincount(i, v[j], len(v)) / np.maximum(counts, 1)
        v = np.where(keep, v, avg)
    return v.astype(np.float32)


def skin_colors(mesh, p, dy, in_mouth):
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    q = mouth_frame(p)
    lip_d = np.minimum(ellipsoid(q, (0, MOUTH_Y + 0.5, 9.45), (2.3, 0.62, 0.7)),
                       ellipsoid(q, (0, MOUTH_Y - 0.55, 9.3), (1.95, 0.62, 0.72)))
    lip_t = (1 - smoothstep(0.0, 0.12, lip_d)) * (np.abs(x) < 2.6)
    col = SKIN[None, :] * np.ones((len(p), 1))
    warm = np.exp(-((x / 1.2) ** 2 + ((y + 3.4) / 1.2) ** 2)) + ear_zone(p)      # nose tip and ears a bit redder
    col = col * (1 - 0.12 * warm[:, None]) + np.array([0.86, 0.52, 0.48]) * 0.12 * warm[:, None]
    blush = np.exp(-(((np.abs(x) - 4.0) / 1.6) ** 2 + ((y + 2.6) / 1.5) ** 2)) * (z > 4)
    col = col * (1 - 0.14 * blush[:, None]) + np.array([0.85, 0.50, 0.48]) * 0.14 * blush[:, None]
    hair = smoothstep(0.05, 0.5, y - hairline_y(z))
    rng = np.random.default_rng(3)
    hair_col = HAIR[None, :] * (1 + 0.25 * (rng.random((len(p), 1)) - 0.5))
    col = col * (1 - hair[:, None]) + hair_col * hair[:, None]
    col = col * (1 - lip_t[:, None]) + LIP * lip_t[:, None]
    inner = smoothstep(0.1, -0.15, ellipsoid(p, CAVITY_C, np.array(CAVITY_R) + 0.1)) * (z < 9.0)
    inner = np.maximum(inner, smoothstep(8.9, 8.2, z) * in_mouth * (np.abs(dy) < 0.6))
    col = col * (1 - inner[:, None]) + MOUTH_INSIDE * inner[:, None]
    # a soft occlusion term darkens creases (nostrils, lid folds, mouth corners); kept light around the eyes so
    # the openings read as lids meeting skin, not as dark goggles
    normals = np.asarray(mesh.compute_normals(point_normals=True, cell_normals=False).point_data["Normals"])
    occl = np.zeros(len(p))
    for step in (0.25, 0.5, 1.0):
        probe = (p + normals * step).astype(np.float32)
        occl += np.clip(step - skin_sdf(probe), 0.0, None) / step / 3
    col *= (1 - 0.3 * np.clip(occl, 0.0, 1.0))[:, None]
    return col


# ---- eyes, lids, brows -----------------------------------------------------------------------------------------
def build_eye(side):
    sphere = pv.Sphere(radius=EYE_R, theta_resolution=48, phi_resolution=40, direction=(0, 0, 1))
    p = np.asarray(sphere.points, np.float32).copy()
    theta = np.degrees(np.arccos(np.clip(p[:, 2] / EYE_R, -1, 1)))       # angle from the gaze axis
    bulge = 0.07 * np.cos(np.clip(theta / 32.0, 0, 1) * np.pi / 2) ** 2 * (theta < 32)
    p *= (1 + bulge / EYE_R)[:, None]
    col = np.tile(SCLERA, (len(p), 1))
    iris_t = smoothstep(29.0, 26.0, theta)
    col = col * (1 - iris_t[:, None]) + IRIS * iris_t[:, None]
    rim = np.exp(-((theta - 27.0) / 2.2) ** 2)
    col = col * (1 - rim[:, None]) + IRIS_RIM * rim[:, None]
    pupil_t = smoothstep(13.0, 11.0, theta)
    col = col * (1 - pupil_t[:, None]) + PUPIL * pupil_t[:, None]
    p += np.array([side * EYE_X, EYE_Y, EYE_Z], np.float32)
    sphere.points = p
    return sphere, col


def lid_frame(side):
    """Rotation from lid-local to head coordinates: the lids hinge about the eye's horizontal axis, tilted so the
    outer corner sits a little higher."""
    a = np.radians(EYE_TILT_DEG) * side
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], np.float32)


def skin_tone_near_eyes(skin, colors):
    """Mean skin colour in a ring around the eye openings: the lids take it, so they read as skin."""
    r = np.linalg.norm(eye_local(mirrored(np.asarray(skin.points, np.float32))), axis=1)
    ring = (r > 1.6) & (r < 2.3)
    return colors[ring].mean(axis=0) if ring.any() else SKIN


def build_lid(side, upper, tone=SKIN):
    centre = np.array([side * EYE_X, EYE_Y, EYE_Z], np.float32)
    rot = lid_frame(side)
    edge = np.radians(UPPER_LID_DEG if upper else LOWER_LID_DEG)
    mid_r, half_t = (LID_R_IN + LID_R_OUT) / 2, (LID_R_OUT - LID_R_IN) / 2

    def sdf(p):
        q = (p - centre) @ rot                                             # into lid-local coordinates
        shell = np.abs(np.linalg.norm(q, axis=1) - mid_r) - half_t
        plane = q[:, 1] * np.cos(edge) - q[:, 2] * np.sin(edge)          # > 0 above the edge great circle
        d = smax(shell, -plane if upper else plane, 0.05)
        return smax(d, -(q[:, 2] + 0.2), 0.1)                            # front part only

    lo, hi = centre - 1.6, centre + 1.6
    mesh = finish(contour(sdf, lo, hi, 0.04), 0.85, 10)
    q = (np.asarray(mesh.points) - centre) @ rot
    ang = np.degrees(np.arctan2(q[:, 1], q[:, 2]))
    from_edge = (ang - np.degrees(edge)) * (1 if upper else -1)
    lash = smoothstep(6.0 if upper else 3.5, 0.5, from_edge) * (q[:, 2] > 0)
    col = np.tile(tone * LID_SHADE, (len(q), 1))   # the surrounding skin's colour, a touch darker in the fold
    col = col * (1 - lash[:, None] * 0.85) + BROW * 0.6 * lash[:, None] * 0.85
    return mesh, col


def build_brows():
    """Brows as thin slabs lying just on the skin surface, shaped by their outline seen from the front."""
    def outline(p):
        ax = np.abs(p[:, 0])
        t = np.clip((ax - 0.9) / 4.4, 0, 1)                                  # 0 at the inner end, 1 at the tail
        centre_y = 2.45 + 0.55 * np.sin(t * np.pi * 0.85) - 0.2 * t
        half_h = 0.22 * (1 - t) + 0.07 * t
        d_y = np.abs(p[:, 1] - centre_y) - half_h
        d_x = np.maximum(0.9 - ax, ax - 5.3)
        return np.maximum(d_y, d_x)

    def sdf(p):
        slab = np.abs(skin_sdf(p, with_mouth=False) - 0.1) - 0.06
        return smax(slab, outline(p), 0.08)

    # one brow, then its mirror image, so both sides get the same triangles
    left = finish(contour(sdf, (0.5, 1.3, 5.0), (6, 4.2, 10.5), 0.04), 0.8, 10)
    faces = left.faces.reshape(-1, 4)[:, 1:]
    pts = np.asarray(left.points)
    both = np.concatenate([pts, pts * [-1, 1, 1]])
    tris = np.concatenate([faces, faces[:, ::-1] + len(pts)])
    mesh = pv.PolyData(both, np.hstack([np.full((len(tris), 1), 3), tris]).ravel())
    rng = np.random.default_rng(7)
    shade = 1 + 0.18 * (rng.random(len(pts)) - 0.5)
    return mesh, BROW[None, :] * np.concatenate([shade, shade])[:, None]


# ---- teeth and tongue ----------------------------------------------------------------------------------------
TOOTH_WIDTH = (0.86, 0.68, 0.76, 0.7, 0.7, 1.0, 1.0)
TOOTH_HEIGHT = (1.0, 0.88, 1.0, 0.8, 0.75, 0.7, 0.68)
TOOTH_DEPTH = (0.32, 0.32, 0.5, 0.7, 0.75, 0.95, 0.95)


def arch_points(front_z, half_width, depth, widths):
    """Tooth centres and tangents along a parabolic arch, spaced by the tooth widths (arc length)."""
    s = np.linspace(0, 1, 400)
    xs, zs = half_width * s, front_z - depth * s ** 2
    arc = np.concatenate([[0], np.cumsum(np.hypot(np.diff(xs), np.diff(zs)))])
    centres, tangents, pos = [], [], 0.0
    for w in widths:
        at = pos + w / 2
        i = min(np.searchsorted(arc, at), len(s) - 1)
        centres.append((xs[i], zs[i]))
        tx, tz = np.cos(np.arctan2(-2 * depth * s[i], half_width)), np.sin(np.arctan2(-2 * depth * s[i], half_width))
        tangents.append((tx, tz))
        pos += w
    return centres, tangents


def build_teeth(upper):
    scale = 1.0 if upper else 0.92
    front = TEETH_FRONT_Z if upper else TEETH_FRONT_Z - 0.22
    widths = tuple(w * scale * (1.0 if upper or i > 1 else 0.72) for i, w in enumerate(TOOTH_WIDTH))
    centres, tangents = arch_points(front - 0.2, 2.25 * scale, 3.0, widths)
    occ = MOUTH_Y + (-0.08 if upper else 0.08)
    sgn = 1.0 if upper else -1.0                                          # teeth grow away from the bite plane

    def sdf(p):
        d = np.full(len(p), 1e3, np.float32)
        m = mirrored(p)
        for (cx, cz), (tx, tz), w, h, dep in zip(centres, tangents, widths, TOOTH_HEIGHT, TOOTH_DEPTH,
                                                  strict=True):
            h = h * (1.0 if upper else 0.9)
            rel = m - np.array([cx, occ + sgn * h / 2, cz], np.float32)
            local = np.stack([rel[:, 0] * tx + rel[:, 2] * tz, rel[:, 1], -rel[:, 0] * tz + rel[:, 2] * tx], 1)
            d = smin(d, round_box(local, (w * 0.47, h / 2, dep / 2), min(0.12, dep / 2 - 0.01)), 0.03)
        gum_y = occ + sgn * 0.95
        for (cx, cz), dep in zip(centres, TOOTH_DEPTH, strict=True):
            d = smin(d, ellipsoid(m, (cx, gum_y, cz), (0.55, 0.3, dep / 2 + 0.12)), 0.15)
        return d

    lo = (-3.2, occ - 1.5, front - 4.4)
    hi = (3.2, occ + 1.5, front + 0.5)
    mesh = finish(contour(sdf, lo, hi, 0.045), 0.9, 10)
    y = np.asarray(mesh.points)[:, 1]
    gum_t = smoothstep(0.62, 0.8, sgn * (y - occ))
    col = TOOTH[None, :] * (1 - gum_t[:, None]) + GUM[None, :] * gum_t[:, None]
    return mesh, col


def build_tongue():
    def sdf(p):
        d = ellipsoid(p, (0, MOUTH_Y - 0.9, 5.0), (1.85, 0.55, 2.75))
        d = smin(d, ellipsoid(p, (0, MOUTH_Y - 1.2, 4.0), (1.9, 0.6, 2.2)), 0.4)
        groove = capsule(p, (0, MOUTH_Y - 0.3, 3.0), (0, MOUTH_Y - 0.34, 7.2), 0.12)
        return smax(d, -groove, 0.2)

    mesh = finish(contour(sdf, (-2.5, MOUTH_Y - 2.2, 1.5), (2.5, MOUTH_Y + 0.2, 8.3), 0.06), 0.9, 10)
    return mesh, np.tile(TONGUE, (mesh.n_points, 1))


# ---- assembly ------------------------------------------------------------------------------------------------
def landmarks():
    return {
        "jaw_hinge": JAW_HINGE, "neck_pivot": NECK_PIVOT,
        "eye_L": (EYE_X, EYE_Y, EYE_Z), "eye_R": (-EYE_X, EYE_Y, EYE_Z),
        "mouth_centre": (0.0, MOUTH_Y, LIP_FRONT_Z), "mouth_corner_L": (MOUTH_CORNER_X, mouth_y(2.45), 9.3),
        "tongue_tip": (0.0, MOUTH_Y - 0.75, 7.7), "tongue_root": (0.0, MOUTH_Y - 1.0, 2.6),
        "lid_params": (UPPER_LID_DEG, LOWER_LID_DEG, EYE_TILT_DEG),
        "mouth_line": (MOUTH_Y, MOUTH_CURVE, MOUTH_WRAP),
        "jaw_line": JAW_LINE,
    }


def main():
    parts = {}
    print("skin ...", flush=True)
    skin, skin_col, extras = build_skin()
    parts["skin"] = (skin, skin_col)
    print("brows, eyes, lids ...", flush=True)
    brows, brow_col = build_brows()
    parts["brows"] = (brows, brow_col)
    for side, tag in ((1, "L"), (-1, "R")):
        parts[f"eye_{tag}"] = build_eye(side)
        tone = skin_tone_near_eyes(skin, skin_col)
        parts[f"lid_upper_{tag}"] = build_lid(side, True, tone)
        parts[f"lid_lower_{tag}"] = build_lid(side, False, tone)
    print("teeth, tongue ...", flush=True)
    parts["teeth_upper"] = build_teeth(True)
    parts["teeth_lower"] = build_teeth(False)
    parts["tongue"] = build_tongue()
    data = {"format_version": np.array(FORMAT_VERSION), "parts": np.array(list(parts))}
    for name, (mesh, col) in parts.items():
        mesh = mesh.triangulate()
        data[f"{name}/points"] = np.asarray(mesh.points, np.float32)
        data[f"{name}/faces"] = mesh.faces.reshape(-1, 4)[:, 1:].astype(np.int32)
        data[f"{name}/colors"] = (np.clip(col, 0, 1) * 255).round().astype(np.uint8)
        print(f"  {name:14s} {mesh.n_points:6d} vertices {mesh.n_cells:6d} triangles")
    for key, val in extras.items():
        data[f"skin/{key}"] = np.asarray(val, np.float16)
    marks = landmarks()
    data["landmark_names"] = np.array(list(marks))
    data["landmark_values"] = np.array([np.pad(np.asarray(v, float), (0, 3 - len(v))) for v in marks.values()],
                                       np.float32)
    fd, tmp = tempfile.mkstemp(dir=OUT_PATH.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez_compressed(fh, **data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT_PATH)
    print(f"wrote {OUT_PATH} ({OUT_PATH.stat().st_size / 1e6:.2f} MB, "
          f"{sum(len(data[f'{n}/points']) for n in parts)} vertices)")


if __name__ == "__main__":
    main()
