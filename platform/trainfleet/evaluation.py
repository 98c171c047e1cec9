"""`trainfleet eval RUN_DIR`: rebuild the trained agent or model from its final checkpoint and score it.

Acting needs the policy's weights and the env's preprocessing, nothing of how the run was
trained: rollout workers, RLlib env runners, a cluster. So eval rebuilds only that, in this
process and without Ray (a run trained on a cluster evaluates on a laptop), from files read as
data: weights-only tensors and a stored spec that passes the same validation as a job file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainfleet import jobs, results
from trainfleet.errors import UserError
from trainfleet.results import final_checkpoint, load_run_spec


def evaluate_run(run_dir: str | Path, episodes: int = 10, gif: str | None = None, sample: int = 0) -> dict[str, Any]:
    if episodes < 1:
        raise UserError(f"--episodes {episodes}: evaluate at least 1 episode")
    if sample < 0:
        raise UserError(f"--sample {sample}: ask for 0 or more samples")
    if gif and not Path(gif).resolve().parent.is_dir():
        raise UserError(f"--gif {gif}: the folder {Path(gif).resolve().parent} does not exist")
    spec, _ = load_run_spec(run_dir)
    ckpt = final_checkpoint(run_dir)
    from trainfleet.dl.text import TEXT_TASKS

    if spec.task in TEXT_TASKS:
        from trainfleet.dl.text.evaluate import evaluate_text_run

        return evaluate_text_run(ckpt, sample_words=sample)
    if not spec.is_rl:
        from trainfleet.dl.evaluate import evaluate_dl_run

        return evaluate_dl_run(run_dir, ckpt, samples=sample)
    from trainfleet.rl.core.evaluate import evaluate_policy

    trial = results.read_trial_spec(ckpt)
    with greedy_policy(trial, ckpt) as act:
        returns, frames = evaluate_policy(trial.rl_env.id, trial.rl_env.kwargs, act, episodes, record_frames=gif is not None)
    if gif:
        write_gif(frames, Path(gif))
    return {
        "episode_return_mean": sum(returns) / len(returns),
        "episodes": len(returns),
        "returns": returns,
    }


@contextmanager
def greedy_policy(spec: jobs.JobSpec, ckpt: Path) -> Iterator[Callable[[Any], Any]]:
    """`act(obs)` of the checkpoint's agent, built in this process with no rollout workers."""
    if spec.backend == "rllib":
        from trainfleet.rl import rllib_policy
        from trainfleet.rl.core.wrappers import single_env

        env = single_env(spec.rl_env.id, spec.rl_env.kwargs)
        space = env.action_space
        env.close()
        yield rllib_policy.load(ckpt, space)
        return
    from trainfleet.launch.runner import NativeRunner, build_runner
    from trainfleet.rl.core.checkpoint import array_shapes, load_state, weights_fit

    if spec.backend == "sb3":  # a fresh SB3 model, the checkpoint's tensors loaded into it (never SB3's .zip)
        sb3_runner = build_runner(spec)
        try:
            with weights_fit(ckpt):
                sb3_runner.load_policy(load_state(ckpt))  # type: ignore[attr-defined]
            yield sb3_runner.act
        finally:
            sb3_runner.close()
        return
    in_process = spec.model_copy(update={"resources": spec.resources.model_copy(update={"rollout_workers": 0})})
    state = load_state(ckpt)
    runner = build_runner(in_process)
    assert isinstance(runner, NativeRunner)  # backend native: rllib and sb3 returned above
    try:
        built = array_shapes(runner.algo.get_state())
        with weights_fit(ckpt):
            runner.algo.load_policy(state)
            loaded = array_shapes(runner.algo.get_state())
            if any(loaded.get(k, shape) != shape for k, shape in built.items()):  # tables load unchecked
                raise ValueError("its arrays have other shapes than the spec's agent")
        yield runner.act
    finally:
        runner.close()


def write_gif(frames: list[Any], path: Path) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames if f is not None]
    if not images:
        return
    with results.atomic_write(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=40, loop=0)
