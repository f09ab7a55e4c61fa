"""`nima train`: fit a NIMA on rated images into a run folder."""
from __future__ import annotations

from pathlib import Path

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.runtime.preprocess import VIEWS
from nima_edge.training.config import BALANCES, LR_SCHEDULES, OPTIMIZERS, STRATEGIES, TrainConfig
from nima_edge.training.data import FORMATS
from nima_edge.training.pipeline import AUGMENTATIONS
from nima_edge.training.spec import BACKBONES


def _score_values(bins: int | None, values: str | None) -> tuple[float, ...] | None:
    if values:
        try:
            parsed = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise click.BadParameter(f"expected comma-separated numbers, got {values!r}",
                                     param_hint="--score-values") from None
        if bins is not None and bins != len(parsed):
            raise click.BadParameter(f"--bins {bins} but {len(parsed)} score values", param_hint="--bins")
        return parsed
    if bins is not None:
        return tuple(float(v) for v in range(1, bins + 1))
    return None


@click.command("train")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Label file: AVA.txt, TID2013 mos_with_names.txt, idealo JSON or CSV. Repeat to train on "
                   "several of one format together (e.g. synthetic captures and `nima realset` photos).")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="Format of the label file.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Image folder (AVA/JSON: <id>.jpg, default ./images beside the labels; TID2013: default "
                   "./distorted_images; CSV: paths are relative to the CSV's folder).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option("--backbone", type=click.Choice(list(BACKBONES)), default=TrainConfig.backbone, show_default=True)
@click.option("--alpha", type=float, default=TrainConfig.alpha, show_default=True, help="Backbone width multiplier.")
@click.option("--input-size", type=click.IntRange(32, 2048), default=TrainConfig.input_size, show_default=True, help="Input side, px.")
@click.option("--bins", type=click.IntRange(min=2), help="Number of score bins (values 1..N); default: the labels'.")
@click.option("--score-values", help="Comma-separated bin values, e.g. 0,1,2,3,4,5,6,7,8,9.")
@click.option("--epochs", type=click.IntRange(min=1), default=TrainConfig.epochs, show_default=True)
@click.option("--phase1-epochs", type=click.IntRange(min=0),
              help="Head-only epochs before all layers train [default: 0 from scratch, else min(2, epochs-1)].")
@click.option("--batch-size", type=click.IntRange(min=1), default=TrainConfig.batch_size, show_default=True)
@click.option("--base-weights", default=TrainConfig.base_weights, show_default=True,
              help="none | imagenet (from the Keras cache; never downloaded) | PATH of backbone weights (.h5).")
@click.option("--init-from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A nima .keras model (e.g. models/default.keras) whose weights start the run: fine-tune it "
                   "on your own photos. Same backbone, alpha and view; a head over other bins starts fresh.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=TrainConfig.optimizer, show_default=True,
              help="adam, or the paper's recipe: SGD momentum 0.9, 3e-7 backbone / 3e-6 head, x0.95 every 10 epochs.")
@click.option("--lr", type=float, help="Learning rate of the all-layers phase [adam: 1e-3 from scratch, 1e-4 "
                                       "fine-tuning; sgd-paper: 3e-7].")
@click.option("--head-lr", type=float, help="Learning rate of the head [adam: 1e-3; sgd-paper: 3e-6].")
@click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES), default=TrainConfig.lr_schedule, show_default=True,
              help="adam's all-layers rate: constant, or cosine decay to 5% over the epochs.")
@click.option("--loss-r", type=float, default=TrainConfig.loss_r, show_default=True, help="Exponent r of the EMD loss.")
@click.option("--augment", type=click.Choice(AUGMENTATIONS),
              help="paper: resize to 256/224 of the input, random crop + flip; flip; none [default: paper; flip "
                   "for csv, since a document set must keep its page edges, and for the mosaic views].")
@click.option("--view", type=click.Choice(VIEWS), default=TrainConfig.view, show_default=True,
              help="What the model sees: the whole frame squashed, or frame+detail: a quarter-size frame plus "
                   "three text-scale tiles, so blur, shake and blocking show, or frame+detail+edge: two of them "
                   "and the frame's border at text scale, so text run off the frame shows (mosaics need an "
                   "even input size).")
@click.option("--balance", type=click.Choice(BALANCES), default=TrainConfig.balance, show_default=True,
              help="defects: weight each training image by 1/sqrt of how many share its strongest defect, "
                   "so rare defects are not drowned by clean pages (needs defect_<name> columns).")
@click.option("--defect-head/--no-defect-head", default=None,
              help="Train a per-defect sigmoid head [default: on when the labels have defect_<name> columns].")
@click.option("--bn-momentum", type=click.FloatRange(0, 1, max_open=True),
              help="BatchNorm moving-average momentum [default: 0.99 from scratch, the backbone's when pretrained].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=TrainConfig.dropout, show_default=True,
              help="Dropout before the heads (NIMA's 0.75; 0.2 did no better on held-out captures, see the model card).")
@click.option("--frame-dropout", type=click.FloatRange(0, 1, max_open=True), default=TrainConfig.frame_dropout,
              show_default=True, help="Mosaic views: the share of training inputs whose whole-frame tile is "
                                      "flattened to its mean colour, so the text-scale tiles must carry the verdict too.")
@click.option("--colour-shift", type=click.FloatRange(0, 1, max_open=True), default=TrainConfig.colour_shift,
              show_default=True, help="Recolour each training input as under another light or on another paper: "
                                      "channel gains within 1 ± S and saturation within 1 ± 2S, exposure kept (0: off).")
@click.option("--average-from", type=click.IntRange(min=1), default=TrainConfig.average_from,
              help="Stochastic weight averaging: the model is the mean of the weights after each epoch from "
                   "this one to the last, not the best single epoch [default: off].")
@click.option("--threshold", type=float, help="Score at which a capture is ok [default: 5 on 1..10, else mid-scale].")
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True, help="Seed of the split, shuffling and init.")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N rows of the labels.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=TrainConfig.strategy, show_default=True,
              help="mirrored: MirroredStrategy over the GPUs (MultiWorkerMirroredStrategy when TF_CONFIG "
                   "names several workers).")
@click.option("--cpu-replicas", type=click.IntRange(min=0), default=0,
              help="Split the CPU into N logical devices (to try --strategy mirrored without GPUs).")
@click.option("--time-budget", "time_budget", type=click.FloatRange(min=0),
              help="Minutes; stop after the epoch that passes it (outputs still written; --resume continues).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint (its config wins).")
@force_option
@translate_errors
def train(data, fmt, images, out, backbone, alpha, input_size, bins, score_values, epochs, phase1_epochs,
          batch_size, base_weights, init_from, optimizer, lr, head_lr, lr_schedule, loss_r, augment, view, defect_head,
          bn_momentum, dropout, frame_dropout, colour_shift, average_from, balance, threshold, seed, limit, strategy, cpu_replicas, time_budget, resume, force) -> None:
    """Train a NIMA (MobileNet + softmax over score bins, EMD loss) into a run folder.

    Writes RUN_DIR/model.keras (best by validation EMD, or with --average-from the weights' mean), config.json, history.csv, metrics.json
    (test split) and checkpoints/ (every epoch; --resume continues a killed run).

    \b
    Examples:
      nima train --data data/synth/labels.csv --format csv --out runs/doc --alpha 0.35 --input-size 160
      nima train --data AVA/AVA.txt --format ava --images AVA/images --base-weights imagenet --out runs/ava
    """
    from nima_edge.training.train import train as run_training

    config = TrainConfig(
        data=str(data[0]), extra_data=tuple(str(d) for d in data[1:]), format=fmt,
        images=str(images) if images else None, backbone=backbone, alpha=alpha,
        input_size=input_size, score_values=_score_values(bins, score_values), epochs=epochs,
        phase1_epochs=phase1_epochs, batch_size=batch_size, base_weights=str(base_weights),
        init_from=str(init_from) if init_from else None, optimizer=optimizer,
        lr=lr, head_lr=head_lr, lr_schedule=lr_schedule, loss_r=loss_r, augment=augment, view=view,
        defect_head=defect_head, bn_momentum=bn_momentum, dropout=dropout, frame_dropout=frame_dropout, colour_shift=colour_shift, average_from=average_from, balance=balance, threshold=threshold,
        seed=seed, limit=limit, strategy=strategy)
    run_training(config, out, resume=resume, force=force, echo=lambda m: click.echo(m, err=True),
                 cpu_replicas=cpu_replicas, time_budget_min=time_budget)
