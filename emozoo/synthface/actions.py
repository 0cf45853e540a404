"""SynthFace's facial action space and the emotion → action table.

Each emotion at full intensity (7) moves a handful of facial action parameters ("actions", loosely FACS-like
action units plus skin and head cues). A face's actions are the intensity-weighted sum of its emotions'
signatures, so intensity is readable from how far each cue moves. Every emotion has a distinct signature
and most have one cue (nearly) of their own, e.g. tongue-out + wink for Teasing, the green tint of Envy,
crossed eyes for Intoxication, the hand on the chin for Contemplation. Emotions that people confuse share
cues: Shame and Embarrassment both look down with a lowered head, but Embarrassment blushes and smiles.

Lateral actions (``LATERAL``) are magnitudes; the renderer picks the side per face, so a horizontal flip
augmentation never turns one emotion's cue into another's.
"""

from __future__ import annotations

import numpy as np

from emozoo.taxonomy import NAMES, NUM_EMOTIONS

__all__ = [
    "ACTIONS",
    "ACTION_RANGES",
    "LATERAL",
    "NUM_ACTIONS",
    "SIGNATURES",
    "actions_from_latent",
    "signature_matrix",
]

# name -> (low, high). Neutral is 0 for all of them; negative ends are the opposite movement.
ACTION_RANGES: dict[str, tuple[float, float]] = {
    # mouth
    "smile": (-1.0, 1.0),  # lip-corner curve: up (+) or down (-)
    "mouth_open": (0.0, 1.0),  # lips apart (laugh, sigh)
    "jaw_drop": (0.0, 1.0),  # tall "O" mouth (surprise, awe)
    "lip_press": (0.0, 1.0),  # thin, pressed lips
    "smirk": (0.0, 1.0),  # one lip corner up
    "teeth": (0.0, 1.0),  # bared teeth (grin, snarl, clench)
    "tongue": (0.0, 1.0),  # tongue out
    "lip_bite": (0.0, 1.0),  # upper teeth on the lower lip
    "pucker": (0.0, 1.0),  # small round pursed mouth
    "mouth_stretch": (0.0, 1.0),  # lips pulled wide and tense (fear, pain)
    "upper_lip_raise": (0.0, 1.0),  # sneer
    "mouth_side": (0.0, 1.0),  # mouth pulled to one side
    # brows and forehead
    "brow_raise": (-1.0, 1.0),
    "brow_furrow": (0.0, 1.0),  # inner brows down and together, vertical lines between them
    "brow_tilt": (-1.0, 1.0),  # inner ends up (+, worry) or down (-, anger)
    "brow_asym": (0.0, 1.0),  # one brow up, the other down (doubt)
    "forehead_lines": (0.0, 1.0),
    # eyes
    "eye_open": (0.0, 1.0),  # widened eyes
    "squint": (0.0, 1.0),  # lower lids raised
    "lid_droop": (0.0, 1.0),  # upper lids lowered, up to closed
    "wink": (0.0, 1.0),  # one eye closed
    "gaze_side": (0.0, 1.0),
    "gaze_y": (-1.0, 1.0),  # up (+) or down (-)
    "pupil": (-1.0, 1.0),  # dilated (+) or pinpoint (-)
    "sparkle": (0.0, 1.0),  # catch-lights in the eyes
    "eye_cross": (0.0, 1.0),  # unfocused, misaligned eyes
    "dark_circles": (0.0, 1.0),
    # head
    "head_tilt": (0.0, 1.0),  # roll
    "head_down": (-1.0, 1.0),  # lowered (+) or chin up (-)
    "head_turn": (0.0, 1.0),  # yaw
    # skin
    "blush": (0.0, 1.0),  # pink cheeks
    "flush": (0.0, 1.0),  # red face
    "pallor": (0.0, 1.0),  # pale, grey face
    "green": (0.0, 1.0),  # "green with envy"
    "shadow": (0.0, 1.0),  # dark eye sockets
    # other
    "tears": (0.0, 1.0),
    "sweat": (0.0, 1.0),
    "nose_wrinkle": (0.0, 1.0),
    "nostril_flare": (0.0, 1.0),
    "hand_chin": (0.0, 1.0),  # hand under the chin
    "sigh": (0.0, 1.0),  # a visible puff of breath
    "shrug": (-1.0, 1.0),  # shoulders raised (+) or squared and lowered, chest out (-)
    "lip_pout": (0.0, 1.0),  # lower lip pushed out, chin dimpled
    "eye_smile": (0.0, 1.0),  # lower lids curve up into crescents
}
ACTIONS: tuple[str, ...] = tuple(ACTION_RANGES)
NUM_ACTIONS = len(ACTIONS)
LATERAL = frozenset({"smirk", "mouth_side", "brow_asym", "wink", "gaze_side", "head_tilt", "head_turn"})

# Emotion -> {action: value at intensity 7}. Hand-written so that each row is a recognisable caricature.
SIGNATURES: dict[str, dict[str, float]] = {
    "Amusement": {"smile": 0.9, "mouth_open": 0.55, "teeth": 0.6, "squint": 0.7, "lid_droop": 0.2, "head_tilt": 0.25},
    "Elation": {"smile": 1.0, "mouth_open": 0.75, "teeth": 0.5, "brow_raise": 0.5, "eye_open": 0.3, "sparkle": 0.6,
                "head_down": -0.3},
    "Pleasure/Ecstasy": {"lid_droop": 0.95, "smile": 0.5, "mouth_open": 0.45, "head_down": -0.6, "blush": 0.35,
                         "brow_tilt": 0.2},
    "Contentment": {"smile": 0.5, "lid_droop": 0.5, "brow_raise": -0.15, "head_tilt": 0.15, "eye_smile": 0.75},
    "Thankfulness/Gratitude": {"smile": 0.55, "head_down": 0.45, "brow_tilt": 0.45, "lid_droop": 0.25, "tears": 0.3,
                               "head_tilt": 0.2, "eye_smile": 0.3},
    "Affection": {"smile": 0.55, "head_tilt": 0.6, "brow_tilt": 0.35, "squint": 0.3, "sparkle": 0.35, "blush": 0.2,
                  "eye_smile": 0.4},
    "Infatuation": {"blush": 0.7, "pupil": 0.9, "sparkle": 0.9, "smile": 0.45, "head_tilt": 0.35, "lid_droop": 0.2},
    "Hope/Enthusiasm/Optimism": {"gaze_y": 0.75, "smile": 0.5, "brow_raise": 0.55, "sparkle": 0.6, "head_down": -0.25},
    "Triumph": {"head_down": -0.7, "mouth_open": 0.85, "teeth": 0.75, "smile": 0.6, "brow_furrow": 0.3, "flush": 0.25,
                "squint": 0.3, "shrug": -0.4},
    "Pride": {"head_down": -0.7, "smile": 0.3, "lip_press": 0.45, "lid_droop": 0.3, "smirk": 0.2, "shrug": -0.8},
    "Interest": {"brow_raise": 0.55, "eye_open": 0.45, "head_tilt": 0.45, "head_turn": 0.35, "mouth_open": 0.15},
    "Awe": {"jaw_drop": 0.7, "eye_open": 0.7, "brow_raise": 0.65, "gaze_y": 0.55, "pupil": 0.5, "sparkle": 0.5},
    "Astonishment/Surprise": {"eye_open": 1.0, "brow_raise": 1.0, "jaw_drop": 0.95, "forehead_lines": 0.6},
    "Concentration": {"brow_furrow": 0.65, "squint": 0.5, "lip_press": 0.5, "gaze_y": -0.35, "head_down": 0.2,
                      "tongue": 0.3},  # the tip of the tongue between the lips
    "Contemplation": {"hand_chin": 0.9, "gaze_y": 0.55, "gaze_side": 0.55, "lip_press": 0.3, "mouth_side": 0.3},
    "Relief": {"lid_droop": 0.6, "smile": 0.4, "brow_tilt": 0.4, "sweat": 0.45, "head_down": -0.35,
               "mouth_open": 0.3, "sigh": 0.8, "shrug": -0.3},
    "Longing": {"gaze_side": 0.65, "gaze_y": 0.35, "brow_tilt": 0.6, "smile": -0.2, "mouth_open": 0.2,
                "sparkle": 0.35, "tears": 0.2},
    "Teasing": {"tongue": 0.95, "wink": 0.8, "smirk": 0.45, "smile": 0.3},
    "Impatience and Irritability": {"gaze_y": 0.75, "lid_droop": 0.4, "lip_press": 0.6, "brow_furrow": 0.4,
                                    "mouth_side": 0.5, "smile": -0.2},
    "Sexual Lust": {"lip_bite": 0.9, "lid_droop": 0.5, "pupil": 0.6, "blush": 0.5, "smirk": 0.3, "head_down": 0.25,
                    "brow_raise": 0.2},
    "Doubt": {"brow_asym": 0.95, "mouth_side": 0.5, "lip_press": 0.4, "squint": 0.35, "gaze_side": 0.3,
              "smile": -0.25},
    "Fear": {"eye_open": 1.0, "brow_raise": 0.6, "brow_tilt": 0.6, "mouth_stretch": 0.8, "mouth_open": 0.35,
             "pallor": 0.6, "sweat": 0.35},
    "Distress": {"brow_tilt": 0.9, "brow_furrow": 0.5, "sweat": 0.75, "mouth_stretch": 0.35, "smile": -0.4,
                 "eye_open": 0.3, "forehead_lines": 0.5},
    "Confusion": {"head_tilt": 0.85, "brow_asym": 0.55, "brow_furrow": 0.45, "mouth_side": 0.55, "gaze_side": 0.35,
                  "mouth_open": 0.15, "shrug": 0.4},
    "Embarrassment": {"blush": 1.0, "gaze_y": -0.6, "head_down": 0.45, "smile": 0.35, "gaze_side": 0.45,
                      "sweat": 0.25},
    "Shame": {"gaze_y": -0.85, "head_down": 0.8, "smile": -0.45, "brow_tilt": 0.5, "blush": 0.3, "lid_droop": 0.25},
    "Disappointment": {"smile": -0.6, "brow_tilt": 0.4, "lid_droop": 0.4, "head_down": 0.3, "lip_press": 0.35,
                       "gaze_y": -0.3, "lip_pout": 0.75},
    "Sadness": {"smile": -0.85, "brow_tilt": 0.9, "tears": 0.9, "gaze_y": -0.35, "dark_circles": 0.3, "lip_pout": 0.35},
    "Bitterness": {"smile": -0.5, "lip_press": 0.6, "squint": 0.45, "brow_furrow": 0.45, "gaze_side": 0.6,
                   "smirk": 0.2},
    "Contempt": {"smirk": 0.95, "upper_lip_raise": 0.35, "head_down": -0.4, "lid_droop": 0.35, "gaze_side": 0.3},
    "Disgust": {"nose_wrinkle": 1.0, "upper_lip_raise": 0.9, "smile": -0.4, "squint": 0.5, "brow_furrow": 0.5,
                "head_turn": 0.3, "green": 0.3},
    "Anger": {"brow_furrow": 1.0, "brow_tilt": -1.0, "flush": 0.8, "teeth": 0.6, "mouth_stretch": 0.4,
              "nostril_flare": 0.7, "eye_open": 0.3, "brow_raise": -0.3},
    "Malevolence/Malice": {"brow_tilt": -0.75, "smile": 0.75, "squint": 0.55, "head_down": 0.5, "teeth": 0.35,
                           "gaze_y": 0.3, "shadow": 0.85},
    "Sourness": {"pucker": 1.0, "squint": 0.8, "lid_droop": 0.35, "nose_wrinkle": 0.5},
    "Pain": {"lid_droop": 0.8, "squint": 1.0, "brow_furrow": 0.8, "brow_tilt": 0.4, "teeth": 0.8,
             "mouth_stretch": 0.7, "sweat": 0.5, "tears": 0.3},
    "Helplessness": {"brow_tilt": 1.0, "smile": -0.6, "mouth_open": 0.3, "gaze_y": 0.45, "head_tilt": 0.3,
                     "tears": 0.3, "eye_open": 0.3, "pallor": 0.2, "shrug": 0.8},
    "Fatigue/Exhaustion": {"lid_droop": 0.75, "dark_circles": 1.0, "mouth_open": 0.35, "head_tilt": 0.4,
                           "pallor": 0.4, "brow_raise": -0.3, "sigh": 0.3, "shrug": 0.2},
    "Emotional Numbness": {"pupil": -0.8, "pallor": 0.7, "dark_circles": 0.3, "lid_droop": 0.3},
    "Intoxication/Altered States of Consciousness": {"eye_cross": 1.0, "flush": 0.6, "blush": 0.45, "lid_droop": 0.4,
                                                     "head_tilt": 0.6, "smile": 0.3, "smirk": 0.4, "mouth_open": 0.25},
    "Jealousy & Envy": {"green": 0.85, "gaze_side": 0.85, "squint": 0.5, "lip_press": 0.5, "brow_furrow": 0.4,
                        "smile": -0.3},
}  # fmt: skip

_LOW = np.array([lo for lo, _ in ACTION_RANGES.values()])
_HIGH = np.array([hi for _, hi in ACTION_RANGES.values()])


def signature_matrix() -> np.ndarray:
    """The (40, NUM_ACTIONS) table: row ``e`` is emotion ``e``'s action vector at intensity 7."""
    table = np.zeros((NUM_EMOTIONS, NUM_ACTIONS))
    index = {name: i for i, name in enumerate(ACTIONS)}
    for e, name in enumerate(NAMES):
        for action, value in SIGNATURES[name].items():
            table[e, index[action]] = value
    return table


_TABLE = signature_matrix()


def actions_from_latent(latent: np.ndarray, rng: np.random.Generator | None = None, jitter: float = 0.04) -> np.ndarray:
    """Facial actions of a face whose hidden emotion intensities (0..7) are ``latent``.

    Args:
        latent: (40,) intensities.
        rng: adds a little idiosyncratic expression noise (each person emotes slightly differently).
        jitter: standard deviation of that noise; small, so the image carries the latent faithfully.
    """
    actions = (np.asarray(latent, dtype=float) / 7.0) @ _TABLE
    if rng is not None:
        actions = actions + rng.normal(0.0, jitter, NUM_ACTIONS)
    return np.clip(actions, _LOW, _HIGH)
