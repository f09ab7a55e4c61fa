"""The optimizers of the two phases and the compile step that `nima train` (and the study
studies/training_throughput.py) runs before each phase."""
from __future__ import annotations

import keras

from .config import TrainConfig
from .losses import EMDLoss
from .model import HEAD_LAYERS, set_backbone_trainable


class BackboneScaledSGD(keras.optimizers.SGD):
    """SGD whose backbone gradients are scaled: with momentum SGD, scaling a gradient by k is
    exactly a learning rate k times smaller, which is how the paper's two rates are applied."""

    def __init__(self, backbone_scale: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.backbone_scale = float(backbone_scale)

    def apply(self, grads, trainable_variables=None):
        variables = trainable_variables if trainable_variables is not None else self._trainable_variables
        grads = [g if g is None or v.path.split("/")[0] in HEAD_LAYERS else g * self.backbone_scale
                 for g, v in zip(grads, variables)]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "backbone_scale": self.backbone_scale}


def make_optimizer(config: TrainConfig, phase: int, steps_per_epoch: int):
    if config.optimizer == "adam":
        if phase == 1 or config.lr_schedule == "constant":
            return keras.optimizers.Adam(config.resolved_head_lr if phase == 1 else config.resolved_lr)
        # The step count lives in the optimizer state, which checkpoints keep, so a resumed run
        # continues the same curve.
        phase2_steps = (config.epochs - config.resolved_phase1_epochs) * max(1, steps_per_epoch)
        return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            config.resolved_lr, decay_steps=max(1, phase2_steps), alpha=0.05))
    # The paper: SGD, momentum 0.9, 3e-6 head / 3e-7 backbone, x0.95 every 10 epochs.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.resolved_head_lr, decay_steps=10 * max(1, steps_per_epoch), decay_rate=0.95, staircase=True)
    return BackboneScaledSGD(learning_rate=schedule, momentum=0.9,
                             backbone_scale=config.resolved_lr / config.resolved_head_lr)


def compile_model(model, config: TrainConfig, phase: int, steps_per_epoch: int, with_defects: bool) -> None:
    set_backbone_trainable(model, phase == 2)
    losses = {"distribution": EMDLoss(r=config.loss_r)}
    weights = {"distribution": 1.0}
    if with_defects:
        # Severities 0..1 are soft targets for the per-defect sigmoids.
        losses["defects"] = keras.losses.BinaryCrossentropy()
        weights["defects"] = config.defect_weight
    model.compile(optimizer=make_optimizer(config, phase, steps_per_epoch), loss=losses, loss_weights=weights,
                  jit_compile=False)
    # Build the slots now (inside the strategy scope) so a checkpoint's state can be assigned.
    model.optimizer.build(model.trainable_variables)
