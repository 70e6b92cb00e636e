"""``semcodec models list | pull | check``: the pretrained components and where they come from."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer
from rich.markup import escape

from .app import console, models_app
from .common import DeviceOpt, ModelOpt, apply_model_overrides


@models_app.command("list")
def models_list_cmd(model: ModelOpt = None) -> None:
    """Components, the id each resolves to, who needs it, and whether it is on this machine."""
    from rich.table import Table

    from ..models.catalog import status

    apply_model_overrides(model)
    rows = status()
    table = Table(title="pretrained components")
    # Ids are never cut: they are what a user copies into --model or `models pull`. Fits 100 columns.
    table.add_column("component / used by", overflow="fold", max_width=22)
    longest = max((len(st.model_id) for st in rows), default=2)
    # whole ids where 100 columns are there; on a narrower terminal they fold rather than vanish
    table.add_column("id", overflow="fold", min_width=min(48, longest) if console.width >= 100 else None)
    table.add_column("size", overflow="fold", max_width=12)
    table.add_column("here", overflow="fold")
    for st in rows:
        here = f"[green]yes[/green] {escape(str(st.path))}" if st.path else "[red]no[/red]"
        table.add_row(f"{st.key}\n[dim]{', '.join(st.used_by)}[/dim]", st.model_id, st.size, here)
    console.print(table)
    console.print("ids: --model COMPONENT=ID, SEMCODEC_<COMPONENT>, or \\[models] in semcodec.toml; "
                  "a local folder may stand for any id")


@models_app.command("pull")
def models_pull_cmd(
    target: Annotated[str, typer.Argument(help="A codec (e.g. multi-sc) or a component (e.g. captioner).")],
    model: ModelOpt = None,
) -> None:
    """Download the weights a codec or component needs (needs internet access)."""
    from ..models.catalog import components_for, pull

    apply_model_overrides(model)
    for key in components_for(target):
        console.print(escape(f"{key}: {pull(key)}"), highlight=False)


@models_app.command("check")
def models_check_cmd(
    target: Annotated[Optional[str], typer.Argument(help="A codec or component (default: all).")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Load each component from the cache and run one tiny forward pass."""
    from ..errors import ModelUnavailable
    from ..models.catalog import check, components_for
    from ..models.source import COMPONENTS, missing_reason

    apply_model_overrides(model)
    if device:
        os.environ["SEMCODEC_DEVICE"] = device
    keys = components_for(target) if target else list(COMPONENTS)
    missing = [k for k in keys if missing_reason(k, target)]
    if missing:
        raise ModelUnavailable(missing_reason(missing[0], target) + (
            f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""))
    for key in keys:
        console.print(f"[green]ok[/green] {escape(f'{key}: {check(key)}')}")
