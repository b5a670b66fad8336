"""The rig channels the model runtime treats on their own, by name, and where the caller's rig keeps them.

The runtime works on (frames, 180) curves in the rig's channel order but never reads the rig: the caller
(app/engines/neural.py, the training and evaluation tools) passes the columns in as :class:`RigChannels`, made from
its rig's channel names::

    channels = RigChannels.from_names(load_rig().channel_names)
    curves = model.generate(audio, frames, emotion, gaze, distance, channels=channels)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Blinks are brief by nature and counted as crossings of 0.5: smoothing would blunt them, so they keep their shape.
SHARP_CHANNELS = ("CTRL_L_eye_blink-translateY", "CTRL_R_eye_blink-translateY")
# The controls that open and close the lips (the opening of app/engines/metrics.py reads these): the lip-closure
# pass (models/closure.py) moves them and nothing else.
CLOSING_CONTROLS = (
    "CTRL_C_jaw-translateY",
    "CTRL_L_mouth_lowerLipDepress-translateY", "CTRL_R_mouth_lowerLipDepress-translateY",
    "CTRL_L_mouth_lipsTogetherU-translateY", "CTRL_R_mouth_lipsTogetherU-translateY",
    "CTRL_L_mouth_lipsTogetherD-translateY", "CTRL_R_mouth_lipsTogetherD-translateY",
)  # fmt: skip


@dataclass(frozen=True)
class RigChannels:
    """Column indices into the curves: ``sharp`` of SHARP_CHANNELS (left out of the smoothing), ``closing`` of
    CLOSING_CONTROLS in that order (the lip-closure pass)."""

    sharp: tuple[int, ...]
    closing: tuple[int, ...]

    @staticmethod
    def from_names(channel_names: Sequence[str]) -> RigChannels:
        """The columns of the named channels in a rig whose channels are ``channel_names``, in order."""
        index = {name: i for i, name in enumerate(channel_names)}
        missing = [name for name in SHARP_CHANNELS + CLOSING_CONTROLS if name not in index]
        if missing:
            raise ValueError(f"the rig has no channel {missing[0]!r}")
        return RigChannels(sharp=tuple(index[name] for name in SHARP_CHANNELS),
                           closing=tuple(index[name] for name in CLOSING_CONTROLS))
