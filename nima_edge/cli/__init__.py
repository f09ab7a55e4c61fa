"""The `nima` command line: the top layer (docs/architecture.md). Every click command lives in this
package, one module per stage; the stages are libraries. This group only knows where each lives.

Commands are imported when invoked, so `nima score` never pays for (or needs) TensorFlow.
Library code raises nima_edge.runtime.errors.NimaError; only this layer turns it into
click.ClickException (exit 1) — commands with a per-item contract set their own exit codes.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys

import click

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "score": "nima_edge.cli.runtime:score",
    "watch": "nima_edge.cli.runtime:watch",
    "rank": "nima_edge.cli.runtime:rank",
    "info": "nima_edge.cli.runtime:info",
    "annotate": "nima_edge.cli.runtime:annotate",
    "synth": "nima_edge.cli.synth:synth",
    "realset": "nima_edge.cli.realset:realset",
    "train": "nima_edge.cli.train:train",
    "eval": "nima_edge.cli.evaluate:eval_command",
    "realcheck": "nima_edge.cli.realcheck:realcheck",
    "export": "nima_edge.cli.export:export",
    "calibrate": "nima_edge.cli.calibrate:calibrate",
    "bench": "nima_edge.cli.bench:bench",
    "spark-score": "nima_edge.cli.archive:spark_score",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing.split(".")[0] in {"tensorflow", "tf_keras", "tensorflow_model_optimization", "keras"}:
                raise click.ClickException(
                    f"`nima {name}` needs TensorFlow: pip install 'nima-edge[train]'"
                ) from None
            if missing.startswith("nima_edge"):
                return None
            raise
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nima-edge")
@click.option("-v", "--verbose", is_flag=True, help="Log progress and diagnostics to stderr.")
def cli(verbose: bool) -> None:
    """nima-edge: score document captures on the device; train and export the model.

    \b
    Examples:
      nima score photo.jpg              # verdict with reasons, bundled model
      nima score photos/ --json         # JSON lines, one per image
      nima watch 0 --show               # live camera prompt
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.suppress(AttributeError, ValueError):  # a test runner's stream may not reconfigure
        # a file name that is not UTF-8 is printed as the bytes it has on disk, as ls prints it
        sys.stdout.reconfigure(errors="surrogateescape")


def main() -> None:
    try:
        cli()
    except OSError as exc:
        # Standard output itself failed (a full disk behind `> file`, a closed pipe): one line, exit 1.
        # Nothing more can be written there, so later flushes go to /dev/null.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"Error: cannot write the output ({exc.strerror or exc})\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
