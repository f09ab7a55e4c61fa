"""The tf.data side of the pipeline: batches of cached model inputs (pipeline.py), augmented."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .pipeline import AUGMENTATIONS, FRAME_DROPOUT_NEEDS_MOSAIC, MIRRORING_AUGMENTATIONS
from .spec import rate_problem


def make_dataset(images: np.ndarray, targets: dict[str, np.ndarray], input_size: int, batch_size: int,
                 augment: str = "none", shuffle: bool = False, seed: int = 0, view: str = "frame",
                 weights: np.ndarray | None = None, frame_dropout: float = 0.0, colour_shift: float = 0.0):
    """A tf.data.Dataset of (uint8 image batch, {output name: target batch}) from cached images;
    with ``weights`` (one per image) a third element, {output name: weight batch}, for Keras to
    scale each image's loss by.

    With a mosaic view (frame+detail, frame+detail+edge) a flip mirrors each of the four tiles in
    place, so the whole-frame tile stays top left where the model expects it. ``frame_dropout``
    (training only) flattens that tile to its own mean colour in this share of the inputs: it keeps
    the frame's exposure but hides its layout, which is where a page source's look lives (the model
    card's occlusion study), so the detail and edge tiles must carry the verdict on their own.
    ``colour_shift`` (training only) recolours each input as another light or paper would
    (shift_colour), one draw for all its tiles, since they come from one photo.

    The augmentation is a function of ``seed``: each training input takes a seed of its own from a
    seeded stream that moves on each epoch, and every random choice is a stateless draw from it.
    Random ops in a parallel map draw from one shared generator in whatever order the threads
    reach it, and two runs of one command then trained two different networks.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augment!r}; choose from {', '.join(AUGMENTATIONS)}")
    if frame_dropout and view == "frame":
        raise ValueError(FRAME_DROPOUT_NEEDS_MOSAIC)
    if problem := rate_problem("colour_shift", colour_shift):
        raise ValueError(problem)
    if augment == "paper" and view != "frame":
        raise ValueError(f"the paper augmentation crops, which would cut across the {view} view's tiles")
    n = len(images)
    if weights is not None and len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} images")
    names = sorted(targets)
    arrays = [targets[name] for name in names]
    stored = images.shape[1]

    def fetch(index):
        i = int(index)
        return (np.asarray(images[i]), *(a[i] for a in arrays))

    weight_of = None if weights is None else tf.constant(np.asarray(weights, dtype=np.float32))

    def load(index):
        out = tf.numpy_function(fetch, [index], [tf.uint8, *([tf.float32] * len(arrays))], stateful=False)
        image = tf.ensure_shape(out[0], (stored, stored, 3))
        labels = {name: tf.ensure_shape(t, (a.shape[1],)) for name, t, a in zip(names, out[1:], arrays)}
        if weight_of is None:
            return image, labels
        return image, labels, {name: weight_of[index] for name in names}

    def augment_one(element, draw):
        image, labels, *weight = element
        crop_seed, flip_seed, dropout_seed, colour_seed = tf.unstack(
            tf.random.experimental.stateless_split(draw, num=4))
        if augment == "paper" and stored != input_size:
            image = tf.image.stateless_random_crop(image, (input_size, input_size, 3), seed=crop_seed)
        if augment in MIRRORING_AUGMENTATIONS and view == "frame":
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
        elif augment == "flip":
            half = input_size // 2
            tiles = tf.reshape(image, (2, half, 2, half, 3))
            flipped = tf.reshape(tf.reverse(tiles, axis=[3]), (input_size, input_size, 3))
            image = tf.cond(tf.random.stateless_uniform((), flip_seed) < 0.5, lambda: flipped, lambda: image)
        if frame_dropout:
            image = tf.cond(tf.random.stateless_uniform((), dropout_seed) < frame_dropout,
                            lambda: flat_frame_tile(image), lambda: image)
        if colour_shift:
            image = shift_colour(image, colour_shift, colour_seed)
        return image, labels, *weight

    def centre(image, labels, *weight):
        if stored != input_size:  # evaluation of a paper-augmented cache: the centre crop
            offset = (stored - input_size) // 2
            image = image[offset:offset + input_size, offset:offset + input_size]
        return image, labels, *weight

    dataset = tf.data.Dataset.range(n)
    if shuffle:
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, draws)).map(augment_one, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(centre, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def flat_frame_tile(image):
    """A mosaic input with its top-left (whole-frame) tile set to that tile's mean colour."""
    half = image.shape[0] // 2
    frame = image[:half, :half]
    mean = tf.cast(tf.round(tf.reduce_mean(tf.cast(frame, tf.float32), axis=(0, 1))), image.dtype)
    flat = tf.broadcast_to(mean, tf.shape(frame))
    return tf.concat([tf.concat([flat, image[:half, half:]], axis=1), image[half:]], axis=0)


def shift_colour(image, strength: float, seed):
    """``image`` (uint8, any size) as under another light or on another paper, its exposure kept.

    Each channel is scaled by a gain in 1 ± ``strength`` (the gains rescaled to average 1, so a grey
    page stays as bright: exposure is part of the label) and the colours then pulled toward or
    pushed from their grey by a factor in 1 ± 2 · ``strength``. The held-out sources are refused
    partly for their look (the model card's "New pages, not new kinds"), and white balance and
    tint are the part of a source's look that says nothing about whether a page can be read.
    ``seed``: a stateless seed (shape (2,)); the same seed gives the same colours.
    """
    gain_seed, saturation_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    pixels = tf.cast(image, tf.float32)
    gains = 1.0 + tf.random.stateless_uniform((3,), gain_seed, -strength, strength)
    pixels = pixels * (gains / tf.reduce_mean(gains))
    grey = tf.reduce_mean(pixels, axis=-1, keepdims=True)
    saturation = tf.random.stateless_uniform((), saturation_seed, max(0.0, 1.0 - 2 * strength), 1.0 + 2 * strength)
    pixels = grey + saturation * (pixels - grey)
    return tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8)
