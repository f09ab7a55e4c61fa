"""Shared pieces of the commands: error translation and common option bundles."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from nima_edge.runtime.errors import NimaError


def translate_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's NimaError (and ValueError from validation) into `Error: ...`, exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NimaError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


force_option = click.option("--force", is_flag=True, help="Overwrite outputs that already exist.")
single_pass_option = click.option(
    "--single-pass", is_flag=True,
    help="Run the model once a frame even when its metadata says mirror_average (scored with its mirror): "
         "half the model's time on a slow device, a less steady verdict.")
