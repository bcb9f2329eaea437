"""The frame every stage runs in: check, open OUT, prepare it, hand the work its executor, finish the manifest;
after a failure, keep what a resume can use and nothing else.

Why apart from the contract (stages.py): the frame chooses the executor, which reaches Ray and the verifier
pool; every stage imports the contract, so the contract must reach neither. Only the CLI, the recipe runner and
the library's users import the frame.
"""

from __future__ import annotations

from contextlib import nullcontext, suppress
from dataclasses import replace

from datafactory.io.outdir import OutputDir
from datafactory.io.remote import RemoteOutput, is_url
from datafactory.scale.executor import ChosenExecutor
from datafactory.stages import STAGES, Plan, StageKind


def run_stage(name: str, config, plan: Plan | None = None, **resources) -> dict:
    """Run stage `name` with its config (the library's entry point; the CLI and recipes call it)."""
    return run(STAGES[name], config, plan, **resources)


def run(kind: StageKind, config, plan: Plan | None = None, **resources) -> dict:
    """Returns the manifest. Check (unless `plan` is the check already run), open OUT (refuse a finished folder or
    a resume with other options), prepare it, hand the work its executor, then finish the manifest and `SUCCESS`.
    After a failure OUT keeps what a resume can use and nothing else; a folder this run created and can neither
    resume nor finish is removed. An OUT on an object store (`s3://…`) is a local working copy, pulled before and
    published after (io/remote.py)."""
    if kind.small_pages:
        from datafactory.memory import use_small_pages

        use_small_pages()
    plan = plan or kind.plan(config)
    if not is_url(config.out):
        return _run_here(kind, config, plan, config.arguments(), **resources)
    remote = RemoteOutput(str(config.out), kind.name, kind.folders)
    remote.pull(config.overwrite, plan.inputs)
    # A stage that resumes from its shards alone publishes them as it goes; an --overwrite publishes at its end,
    # so that the finished run it replaces stays whole until then.
    as_it_goes = not (kind.resumes_from or kind.restarts or config.overwrite)
    try:
        with remote.publishing_shards() if as_it_goes else nullcontext():
            manifest = _run_here(kind, replace(config, out=remote.local), plan, config.arguments(), **resources)
    except BaseException:
        with suppress(Exception):  # what went wrong matters more; the working copy still holds it all
            remote.publish(finished=False)
        raise
    remote.publish(finished=True)
    return manifest


def _run_here(kind: StageKind, config, plan: Plan, arguments: dict, **resources) -> dict:
    outdir = kind.output_dir(config.out)
    try:
        outdir.check(arguments, config.overwrite, plan.inputs, config.resume_keys(), work=kind.resumes_from)
    except BaseException:
        outdir.unlock()  # refused: OUT is as it was, and free for the next run in this process
        raise
    created = outdir.path == outdir.staging_path or not outdir.path.exists()
    try:
        outdir.prepare(arguments, restart=kind.restarts)
        result = kind.load(kind.work)(config, plan, outdir, ChosenExecutor.of(config), **resources)
    except BaseException:
        _abandon(kind, outdir, created)
        raise
    return outdir.finish(arguments, plan.recorded_inputs(), result.counts, result.digests, **result.manifest)


def _abandon(kind: StageKind, outdir: OutputDir, created: bool) -> None:
    """After a failure: keep what a resume can use; otherwise remove what the stage wrote (and the folder, if this
    run made it and nothing else is there: an engine.log explaining the failure stays)."""
    try:
        work = outdir.path / kind.resumes_from if kind.resumes_from else None
        outdir.remove_temporaries()  # a half-written file helps no resume (a stage's work folder is one of its own)
        written = outdir.shards() or (work and work.is_dir() and any(work.iterdir()))
        resumable = written and not kind.restarts and outdir.path == outdir.final  # --overwrite starts afresh
        if not resumable and (created or kind.restarts):
            outdir.clear()
            if created and outdir.path.is_dir() and not any(outdir.path.iterdir()):
                outdir.path.rmdir()
    except OSError:
        pass  # the failure being reported matters more; what is left is cleared by the next run
    finally:
        outdir.unlock()


def shared(kind: StageKind, configs: list, out, verbose: bool):
    """What a stage's sources share in a recipe (generate: one engine), started on the executor the frame
    chooses for them."""
    from contextlib import nullcontext

    if not kind.session:
        return nullcontext({})
    return kind.load(kind.session)(configs, out, verbose, ChosenExecutor.of(configs[0]))
