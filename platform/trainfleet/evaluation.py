"""`trainfleet eval RUN_DIR`: rebuild the trained agent or model from its final checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainfleet.results import final_checkpoint, load_run_spec


def evaluate_run(run_dir: str | Path, episodes: int = 10, gif: str | None = None, sample: int = 0) -> dict[str, Any]:
    spec, _ = load_run_spec(run_dir)
    ckpt = final_checkpoint(run_dir)
    from trainfleet.dl.text import TEXT_TASKS

    if spec.task in TEXT_TASKS:
        from trainfleet.dl.text.evaluate import evaluate_text_run

        return evaluate_text_run(ckpt, sample_words=sample)
    if not spec.is_rl:
        from trainfleet.dl.evaluate import evaluate_dl_run

        return evaluate_dl_run(run_dir, ckpt)
    from trainfleet.launch.runner import build_runner, read_trial_spec
    from trainfleet.rl.core.evaluate import evaluate_policy

    trial = read_trial_spec(ckpt)
    runner = build_runner(trial)
    try:
        runner.restore(ckpt)
        returns, frames = evaluate_policy(
            trial.env.id, trial.env.kwargs, runner.act, episodes, record_frames=gif is not None
        )
    finally:
        runner.close()
    if gif:
        write_gif(frames, gif)
    return {
        "episode_return_mean": sum(returns) / len(returns),
        "episodes": len(returns),
        "returns": returns,
    }


def write_gif(frames: list[Any], path: str) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames if f is not None]
    if not images:
        return
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
