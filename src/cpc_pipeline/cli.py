"""Project commands for the ``kedro`` CLI: Kedro's own ``run``, whose foreseeable failures print one line.

A bad parameter, a damaged checkpoint or tracking store, missing or corrupt data, an impossible
combination of parameters: each raises an error whose message names the parameter or the file and says
what to do. ``kedro run`` prints that message alone, without the traceback before it; ``kedro run
--verbose`` (or ``CPC_TRACEBACK=1``) brings the traceback back. Every other error, a bug, keeps its
traceback. Kedro picks this module up by its name (``<package>/cli.py``) and its ``run`` replaces the
built-in one, with the same options and Kedro's own default runner.

``kedro join``: the other machines of a distributed pretraining (docs/distributed.md, "Several machines"). One machine
runs ``kedro run``; each other one runs ``kedro join`` with the same ``--env`` and ``--params``, which
prepares the stage's inputs from its own catalog, starts its share of the training processes, and writes
nothing: no catalog outputs, no MLflow records (each machine's first process keeps a checkpoint on its own
disk, so that ``trainer.resume`` works everywhere).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

import click
from kedro.framework.cli.project import run as kedro_run

from cpc_pipeline.errors import UserError
from cpc_pipeline.messages import ACTIONABLE, summary
from cpc_pipeline.methods import METHODS

TRACEBACK_VARIABLE = "CPC_TRACEBACK"


def _check_pipeline_names(*names) -> None:
    """Each pipeline named by ``--pipelines`` (or the older ``--pipeline``) exists, or one UserError listing them."""
    from kedro.framework.project import pipelines

    asked = [n.strip() for value in names if value for n in (value.split(",") if isinstance(value, str) else value)]
    unknown = [n for n in asked if n and n not in pipelines]
    if unknown:
        raise UserError(
            f"no pipeline named {', '.join(map(repr, unknown))}: this project's pipelines are "
            f"{', '.join(sorted(pipelines))} (kedro registry list)"
        )


def _one_line(callback):
    @functools.wraps(callback)
    def run(*args, verbose: bool = False, **kwargs):
        if not (verbose or os.environ.get(TRACEBACK_VARIABLE)):  # it logs each pydantic report in full first
            logging.getLogger("kedro.validation").setLevel(logging.CRITICAL)
        try:
            _check_pipeline_names(kwargs.get("pipelines"), kwargs.get("pipeline"))
            return callback(*args, **kwargs)
        except ACTIONABLE as err:
            if verbose or os.environ.get(TRACEBACK_VARIABLE):
                raise
            click.secho(f"Error: {summary(err, kwargs.get('params'))}", fg="red", err=True)
            click.secho(f"(kedro run --verbose, or {TRACEBACK_VARIABLE}=1, shows the traceback)", dim=True, err=True)
            sys.exit(1)

    return run


@click.group(name="cpc_pipeline")
def cli() -> None:
    """cpc_pipeline's project commands."""


cli.add_command(
    click.Command(
        name="run",
        params=[*kedro_run.params, click.Option(["--verbose"], is_flag=True, help="Show the traceback of an error.")],
        callback=_one_line(kedro_run.callback),
        help=kedro_run.help,
        short_help=kedro_run.short_help,
    )
)


TRAINING_NODES = {m.stage: m.training_node for m in METHODS.values() if m.trains}  # the nodes that launch workers


def join_run(pipeline: str, env: str | None = None, params: dict | None = None, project: Path | None = None) -> None:
    """Take this machine's part in a distributed ``pipeline`` run started by ``kedro run`` on another machine:
    run the stage's nodes up to its training node in memory, from this machine's catalog, and discard what
    they return."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project or Path.cwd())
    with KedroSession.create(project_path=project or Path.cwd(), env=env, runtime_params=params or {}) as session:
        catalog = session.load_context().catalog
        stage = pipelines[pipeline]
        trainer = next(n.name for n in stage.nodes if n.name.rsplit(".", 1)[-1] == TRAINING_NODES[pipeline])
        upstream = stage.to_nodes(trainer)
        values: dict = {}
        for node in upstream.nodes:  # topologically sorted; the training node is last
            values |= node.run({name: values[name] if name in values else catalog.load(name) for name in node.inputs})
    click.echo(
        f"{pipeline}: this machine's share of the distributed training ended; the outputs are on the "
        "machine that ran kedro run"
    )


_option = {p.name: p for p in kedro_run.params}


@cli.command(name="join")
@click.option(
    "--pipeline",
    type=click.Choice(sorted(TRAINING_NODES)),
    default="pretraining",
    show_default=True,
    help="The stage whose distributed training to join.",
)
@click.option("--verbose", is_flag=True, help="Show the traceback of an error.")
def _join(pipeline: str, env: str | None, params: dict, verbose: bool) -> None:
    """Join a distributed pretraining started on another machine with kedro run (same --env and --params,
    trainer.distributed.nnodes > 1): this machine trains its share and writes nothing."""
    _one_line(join_run)(pipeline, env, params, verbose=verbose)


_join.params += [_option["env"], _option["params"]]
