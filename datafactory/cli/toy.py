"""`datafactory toy …`: the bundled toy model's prompt sets and training."""

from __future__ import annotations

from typing import Annotated

import typer

from datafactory.cli import Command, Group, app

toy_app = typer.Typer(
    cls=Group, help="The bundled toy reasoner: demo prompt sets and (re)training.", no_args_is_help=True
)
app.add_typer(toy_app, name="toy")

PROMPTS_EXAMPLES = """
**Examples**

    datafactory toy prompts -o prompts/ --reasoning 500 --general 200 --seed 0
"""
TRAIN_EXAMPLES = """
**Examples**

    datafactory toy train -o my-toy/ --steps 4400
"""


@toy_app.command(epilog=PROMPTS_EXAMPLES, cls=Command)
def prompts(
    out: Annotated[str, typer.Option("-o", "--out", help="Folder for reasoning.jsonl and general.jsonl.")],
    reasoning: Annotated[int, typer.Option(help="Arithmetic prompts (with gold answers).")] = 500,
    general: Annotated[int, typer.Option(help="General prompts (no gold).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same prompts.")] = 0,
) -> None:
    """Write seeded arithmetic prompts with gold answers and general prompts as JSONL."""
    from datafactory.toy.data import write_demo_prompts

    counts = write_demo_prompts(out, reasoning, general, seed)
    typer.echo(f"toy prompts: {counts[0]} reasoning + {counts[1]} general in {out}", err=True)


@toy_app.command(epilog=TRAIN_EXAMPLES, cls=Command)
def train(
    out: Annotated[str, typer.Option("-o", "--out", help="Folder for the trained model.")],
    steps: Annotated[int, typer.Option(help="Training steps.")] = 4400,
    batch: Annotated[int, typer.Option(help="Sequences per step.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of the data and the initialisation.")] = 0,
    evaluate: Annotated[
        bool,
        typer.Option("--evaluate/--no-evaluate", metavar="", help="Measure it with vLLM and write the model card."),
    ] = True,
) -> None:
    """Train a toy reasoner like the bundled one (about 11 minutes on 2 CPU cores)."""
    from datafactory.toy.train import train_toy_reasoner

    path = train_toy_reasoner(out, steps=steps, batch=batch, seed=seed)
    if evaluate:
        from datafactory.toy.evaluate import evaluate_and_write_card

        evaluate_and_write_card(path, steps=steps, seed=seed, batch=batch)
