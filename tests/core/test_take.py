import numpy as np
import pytest

from app.core.keys import Interp, Keys
from app.core.rig import load_rig
from app.core.settings import GenerationSettings, Provenance, SettingsError
from app.core.take import EmotionKey, GenerationMeta, Lock, Take, blend_locked

rig = load_rig()
JAW = rig.index("CTRL_C_jaw-translateY")
BLINK = rig.index("CTRL_L_eye_blink-translateY")


def _wave(n=120):
    base = rig.rest_curves(n)
    base[:, JAW] = 0.2 + 0.1 * np.sin(np.arange(n) / 5.0)
    return base


def test_evaluate_is_base_plus_edits_clamped():
    t = Take(_wave())
    t.set_keys(JAW, Keys.from_lists([0, 100], [0.1, 0.1], [Interp.LINEAR] * 2))
    ev = t.evaluate()
    assert np.allclose(ev[:, JAW], np.clip(_wave()[:, JAW] + 0.1, 0, 1), atol=1e-6)
    t.set_keys(JAW, Keys.from_lists([0], [5.0]))
    assert np.all(t.evaluate()[:, JAW] == 1.0)  # jaw open is clamped to its range
    t.set_keys(BLINK, Keys.from_lists([0], [-5.0]))
    assert np.all(t.evaluate()[:, BLINK] == -1.0)


def test_evaluate_is_cached_and_read_only():
    t = Take(_wave())
    a = t.evaluate()
    assert a is t.evaluate()
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    t.set_keys(JAW, Keys.from_lists([0], [0.1]))
    assert t.evaluate() is not a


def test_listeners_and_revision():
    t = Take(_wave())
    seen = []
    t.add_listener(lambda take: seen.append(take.revision))
    t.set_keys(JAW, Keys.from_lists([0], [0.1]))
    t.set_locks([Lock(0, 10)])
    assert seen == [1, 2]


def test_regeneration_keeps_locked_ranges_and_blends_edges():
    t = Take(_wave(), locks=[Lock(40, 60, (JAW,))])
    old = t.evaluate().copy()
    new = rig.rest_curves(120)
    new[:, JAW] = 0.9
    t.set_base(new)
    ev = t.evaluate()
    assert np.array_equal(ev[40:60, JAW], old[40:60, JAW])  # locked frames held exactly
    assert np.all(ev[:30, JAW] == pytest.approx(0.9)) and np.all(ev[70:, JAW] == pytest.approx(0.9))
    # edges ease in: values just outside the lock lie between the held and the new value
    edge = ev[36:40, JAW]
    assert np.all(edge <= 0.9 + 1e-6) and np.all(np.diff(np.abs(edge - 0.9)) > 0)
    # other channels are not locked
    assert np.all(ev[40:60, BLINK] == 0)


def test_blend_locked_all_channels_and_length_change():
    old = np.zeros((50, 3), np.float32)
    new = np.ones((80, 3), np.float32)
    out = blend_locked(old, new, [Lock(10, 20)], blend=0)
    assert out.shape == (80, 3) and np.all(out[10:20] == 0) and np.all(out[20:] == 1)


def test_bad_inputs():
    with pytest.raises(ValueError):
        Take(np.zeros((10, 12)))
    bad = rig.rest_curves(5)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError):
        Take(bad)
    with pytest.raises(ValueError):
        Lock(10, 5)
    with pytest.raises(IndexError):
        Take(_wave()).set_keys(500, Keys.from_lists([0], [0.0]))
    with pytest.raises(ValueError, match="unknown emotion"):
        EmotionKey(0.0, "bored", 0.5)
    with pytest.raises(ValueError, match="intensity"):
        EmotionKey(0.0, "happy", 1.5)


def test_locked_mask():
    t = Take(_wave(), locks=[Lock(5, 10, (JAW,)), Lock(100, 200)])
    m = t.locked_mask()
    assert m[5:10, JAW].all() and not m[5:10, BLINK].any() and m[100:, :].all() and not m[10:100].any()


def _meta(engine: str, **provenance) -> GenerationMeta:
    return GenerationMeta(settings=GenerationSettings(engine=engine), provenance=Provenance(**provenance))


def test_engine_label_names_what_the_engine_did():
    assert _meta("procedural").engine_label() == "procedural"
    assert _meta("neural", steps=2, guidance=1.5).engine_label() == "neural, 2 steps, guidance 1.5"
    assert _meta("neural", steps=1, guidance=0.0).engine_label() == "neural, 1 step, guidance 0"
    assert _meta("neural", steps=2, guidance=1.0, phones_source="forced", phones=31).engine_label() == \
        "neural, 2 steps, guidance 1, transcript phones"
    assert _meta("procedural", phones_source="file", phones=31).engine_label() == "procedural, phone file"
    recognised = {"phones_source": "recognised", "unsure_fraction": 0.123, "phones": 40}
    assert _meta("procedural", **recognised).engine_label() == "procedural, mouth shapes from audio (12% unsure)"
    assert _meta("neural", steps=2, **recognised).engine_label() == \
        "neural, 2 steps, mouth shapes from audio (12% unsure)"


def test_settings_survive_json_and_refuse_what_is_out_of_range():
    settings = GenerationSettings.of(engine="neural", seed=4, gaze=(3.0, -1.0), steps=3, guidance=0.0,
                                     emotion_keys=(EmotionKey(0.0, "sad", 0.4), EmotionKey(1.5, "happy", 1.0)),
                                     transcript="  hello  ", closure_threshold=0.3)
    assert settings.inputs.transcript == "hello"  # blank space trimmed once, here
    assert GenerationSettings.from_json(settings.to_json()) == settings
    assert settings.performance.key_at(1.0).emotion == "sad" and settings.performance.key_at(2.0).emotion == "happy"
    for bad, match in (({"eye_contact": 1.5}, "eye contact"), ({"articulation": -1}, "articulation"),
                       ({"gaze": (90.0, 0.0)}, "gaze yaw"), ({"head_distance": float("nan")}, "head distance"),
                       ({"steps": 2.5}, "sampling steps"), ({"guidance": 9}, "guidance"),
                       ({"threshold": 2}, "confidence"), ({"seed": "x"}, "seed"), ({"emotion_keys": ()}, "emotion")):
        with pytest.raises(SettingsError, match=match):
            GenerationSettings.of(**bad)
    with pytest.raises(SettingsError, match="unknown options"):
        GenerationSettings.from_json({"options": {"warp": 1}})
