"""Names a job may use -> lazily imported builders.

Every algorithm, model and dataset is registered here by a stable name with the import
path of its implementation, so `trainfleet list`, `--help` and spec validation never import
torch or Ray for entries the job does not use. A miss lists the close match and the command
that shows every valid name.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from trainfleet.errors import SpecError, did_you_mean, excerpt


@dataclass(frozen=True)
class Entry:
    """One registered implementation: where it lives and what it is for."""

    name: str
    target: str  # "module.path:Attribute"
    summary: str
    family: str = ""
    backend: str = "native"

    def load(self) -> Any:
        module_name, attr = self.target.split(":")
        return getattr(importlib.import_module(module_name), attr)


def _entries(*entries: Entry) -> dict[tuple[str, str], Entry]:
    return {(e.name, e.backend): e for e in entries}


_TAB = "trainfleet.rl.tabular"
_DEEP = "trainfleet.rl.deep"
_SEARCH = "trainfleet.rl.search"

ALGORITHMS: dict[tuple[str, str], Entry] = _entries(
    # Unit 1: planning with a known model
    Entry("value_iteration", f"{_TAB}.dynamic_programming:ValueIteration", "Bellman optimality sweeps over the full model", "tabular/dp"),
    Entry("policy_iteration", f"{_TAB}.dynamic_programming:PolicyIteration", "exact policy evaluation + greedy improvement", "tabular/dp"),
    # Unit 1: learning from experience
    Entry("mc_prediction", f"{_TAB}.monte_carlo:MonteCarloPrediction", "first- or every-visit Monte Carlo evaluation of a fixed policy", "tabular/mc"),
    Entry("mc_control", f"{_TAB}.monte_carlo:MonteCarloControl", "on-policy first-visit MC control (epsilon-soft or exploring starts)", "tabular/mc"),
    Entry("off_policy_mc_prediction", f"{_TAB}.off_policy_mc:OffPolicyMCPrediction", "off-policy MC evaluation by ordinary or weighted importance sampling", "tabular/mc"),
    Entry("off_policy_mc_control", f"{_TAB}.off_policy_mc:OffPolicyMCControl", "off-policy MC control of the greedy policy by importance sampling", "tabular/mc"),
    Entry("td0_prediction", f"{_TAB}.td_prediction:TD0Prediction", "TD(0) evaluation of a fixed policy", "tabular/td"),
    Entry("sarsa", f"{_TAB}.td_control:Sarsa", "on-policy TD control", "tabular/td"),
    Entry("expected_sarsa", f"{_TAB}.td_control:ExpectedSarsa", "TD control on the expected next action value", "tabular/td"),
    Entry("q_learning", f"{_TAB}.td_control:QLearning", "off-policy TD control", "tabular/td"),
    Entry("dyna_q", f"{_TAB}.dyna_q:DynaQ", "Q-learning plus planning on a learned model", "tabular/model-based"),
    # Unit 1: the baseline every report can draw
    Entry("random", "trainfleet.rl.random_agent:RandomAgent", "uniformly random actions, no learning (any Discrete or Box env)", "baseline"),
    # Unit 2: real-world RL, the data-centre cooling case study's classical controllers (no learning)
    Entry("fixed_setpoints", "trainfleet.rl.cooling_baselines:FixedSetpoints", "conservative fixed cooling setpoints", "baseline"),
    Entry("rule_based", "trainfleet.rl.cooling_baselines:RuleBased", "cooling setpoints by outdoor temperature and IT load", "baseline"),
    Entry("pid", "trainfleet.rl.cooling_baselines:PID", "fan speed by a PID on the hottest zone inlet", "baseline"),
    Entry("ppo_lagrangian", f"{_DEEP}.ppo_lagrangian:PPOLagrangian", "PPO with a learned multiplier on the episode constraint cost", "deep/safe"),
    # Unit 1-2: deep model-free RL, one readable file each
    Entry("reinforce", f"{_DEEP}.reinforce:Reinforce", "Monte Carlo policy gradient (optional value baseline)", "deep/on-policy"),
    Entry("a2c", f"{_DEEP}.a2c:A2C", "synchronous advantage actor-critic", "deep/on-policy"),
    Entry("a3c", f"{_DEEP}.a3c:A3C", "asynchronous advantage actor-critic (worker gradients applied in arrival order)", "deep/on-policy"),
    Entry("ppo", f"{_DEEP}.ppo:PPO", "proximal policy optimisation (clipped objective, GAE)", "deep/on-policy"),
    Entry("trpo", f"{_DEEP}.trpo:TRPO", "trust-region policy optimisation (conjugate gradient, line search)", "deep/on-policy"),
    Entry("dqn", f"{_DEEP}.dqn:DQN", "deep Q-network; double, dueling and prioritized replay as switches", "deep/off-policy"),
    Entry("ddpg", f"{_DEEP}.ddpg:DDPG", "deep deterministic policy gradient", "deep/off-policy"),
    Entry("td3", f"{_DEEP}.td3:TD3", "twin delayed DDPG", "deep/off-policy"),
    Entry("sac", f"{_DEEP}.sac:SAC", "soft actor-critic (squashed Gaussian, twin critics, tuned temperature)", "deep/off-policy"),
    # Unit 2: stochastic policy search, the population evaluated across rollout workers
    Entry("cem", f"{_SEARCH}.cem:CEM", "cross-entropy method with an added-noise schedule", "search"),
    Entry("es", f"{_SEARCH}.es:ES", "OpenAI evolution strategies (shared noise table, antithetic pairs, centred ranks)", "search"),
    Entry("cma_es", f"{_SEARCH}.cma_es:CMAES", "CMA-ES through the cma package's ask/tell", "search"),
    # Unit 2: model-based RL: learned dynamics models, planning
    Entry("mpc", "trainfleet.rl.model_based.mpc:MPC", "model-predictive control on a learned model (random shooting, CEM, CMA-ES; PETS)", "model-based"),
    Entry("mcts", "trainfleet.rl.model_based.mcts:MCTS", "UCT Monte Carlo tree search with the env's true model", "model-based"),
    Entry("mbpo", "trainfleet.rl.model_based.mbpo:MBPO", "model-based policy optimisation: ensemble rollouts branched from real states train SAC", "model-based"),
    # Unit 2: meta-RL, adaptation to unseen tasks of a task family
    Entry("maml", "trainfleet.rl.meta.maml:MAML", "model-agnostic meta-learning (policy-gradient inner step, second/first order)", "meta"),
    Entry("rl2", "trainfleet.rl.meta.rl2:RL2", "RL²: a GRU policy that adapts within a trial, trained by PPO", "meta"),
    # RLlib backend: what RLlib maintains
    Entry("ppo", "trainfleet.rl.rllib:RLlibPPO", "RLlib PPO", "rllib", backend="rllib"),
    Entry("dqn", "trainfleet.rl.rllib:RLlibDQN", "RLlib DQN (double/dueling/prioritized settings)", "rllib", backend="rllib"),
    Entry("sac", "trainfleet.rl.rllib:RLlibSAC", "RLlib soft actor-critic", "rllib", backend="rllib"),
    Entry("appo", "trainfleet.rl.rllib:RLlibAPPO", "RLlib asynchronous PPO", "rllib", backend="rllib"),
    Entry("impala", "trainfleet.rl.rllib:RLlibIMPALA", "RLlib IMPALA (V-trace)", "rllib", backend="rllib"),
    Entry("dreamerv3", "trainfleet.rl.rllib:RLlibDreamerV3", "RLlib DreamerV3 world model (RSSM) + imagined actor-critic", "rllib", backend="rllib"),
    # Stable-Baselines3 backend (the optional extra `.[sb3]`): the notes' SB3 algorithms
    Entry("ppo", "trainfleet.rl.sb3:SB3PPO", "Stable-Baselines3 PPO", "sb3", backend="sb3"),
    Entry("a2c", "trainfleet.rl.sb3:SB3A2C", "Stable-Baselines3 A2C", "sb3", backend="sb3"),
    Entry("dqn", "trainfleet.rl.sb3:SB3DQN", "Stable-Baselines3 DQN", "sb3", backend="sb3"),
    Entry("sac", "trainfleet.rl.sb3:SB3SAC", "Stable-Baselines3 soft actor-critic", "sb3", backend="sb3"),
    Entry("td3", "trainfleet.rl.sb3:SB3TD3", "Stable-Baselines3 TD3", "sb3", backend="sb3"),
)

_DLM = "trainfleet.dl.models"
_DLD = "trainfleet.dl.data.builtin"
_TXT = "trainfleet.dl.text.corpora"


def _named(*entries: Entry) -> dict[str, Entry]:
    return {e.name: e for e in entries}


# Unit 3: deep learning models (family = the default task: what `trainfleet list models` shows)
MODELS: dict[str, Entry] = _named(
    Entry("perceptron", f"{_DLM}.perceptron:Perceptron", "Rosenblatt perceptron: step activation, perceptron learning rule", "classify"),
    Entry("mlp", f"{_DLM}.mlp:MLP", "multilayer / deep feed-forward network (depth, width, activation, dropout, batchnorm)", "classify"),
    Entry("cnn", f"{_DLM}.cnn:CNN", "convolutional network; defaults = the notes' Keras CNN (3,938,570 params on 64x64x3)", "classify"),
    Entry("rnn", f"{_DLM}.rnn:SimpleRNN", "simple (Elman) RNN sequence classifier", "classify"),
    Entry("deep_rnn", f"{_DLM}.rnn:DeepRNN", "stacked RNN sequence classifier", "classify"),
    Entry("lstm", f"{_DLM}.rnn:LSTM", "LSTM sequence classifier", "classify"),
    Entry("gru", f"{_DLM}.rnn:GRU", "GRU sequence classifier", "classify"),
    Entry("autoencoder", f"{_DLM}.autoencoder:Autoencoder", "dense autoencoder (bottleneck code)", "reconstruct"),
    Entry("denoising_autoencoder", f"{_DLM}.autoencoder:DenoisingAutoencoder", "dense autoencoder trained on noisy inputs", "reconstruct"),
    Entry("conv_autoencoder", f"{_DLM}.autoencoder:ConvAutoencoder", "convolutional autoencoder", "reconstruct"),
    Entry("gan", f"{_DLM}.gan:GAN", "the notes' MLP GAN (G 256-512-1024, D 512-256), label smoothing", "generate"),
    Entry("dcgan", f"{_DLM}.gan:DCGAN", "deep convolutional GAN", "generate"),
    Entry("vit", f"{_DLM}.vit:ViT", "vision transformer: patches, class token, learned positions, pre-norm blocks", "classify"),
    Entry("captioner", f"{_DLM}.captioner:Captioner", "Show, Attend and Tell: CNN features, LSTM decoder attending over positions", "caption"),
    Entry("merge_captioner", f"{_DLM}.captioner:MergeCaptioner", "merge captioner: word LSTM, pooled image merged before the word layer", "caption"),
    Entry("video_to_text", f"{_DLM}.video_to_text:VideoToText", "S2VT-style video captioner: frame CNN, LSTM over time, attending decoder", "caption"),
    Entry("unet", f"{_DLM}.unet:UNet", "U-Net: all skips, output = input size; `variant: notes` = the notes' half-size model", "segment"),
    Entry("attention_unet", f"{_DLM}.unet:AttentionUNet", "Attention U-Net: additive attention gates on every skip (Oktay et al. 2018)", "segment"),
    Entry("rbf", f"{_DLM}.rbf:RBF", "radial basis function network: Gaussian units (k-means centres, learned widths), linear output", "classify"),
    Entry("dbn", f"{_DLM}.dbn:DBN", "deep belief network: stacked RBMs pretrained greedily by contrastive divergence, then fine-tuned", "classify"),
    Entry("snn", f"{_DLM}.snn:SNN", "spiking network: leaky integrate-and-fire units, surrogate gradient, rate-coded input", "classify"),
    Entry("yolo", f"{_DLM}.yolo:Yolo", "YOLO-style single-stage grid detector, anchor-free: objectness, boxes, classes, NMS", "detect"),
    Entry("detr", f"{_DLM}.detr:Detr", "DETR: CNN backbone, transformer encoder-decoder, object queries, Hungarian set loss", "detect"),
    Entry("transfer", f"{_DLM}.transfer:Transfer", "pre-trained body from another run or weights file, new head, freeze/unfreeze top k", "classify"),
    # Unit 4: NLP (trained by dl/text/train.py)
    Entry("tfidf", f"{_DLM}.tfidf:TfIdf", "vector space model: TF, IDF (notes or smoothed), TF-IDF, cosine ranking", "embed"),
    Entry("skipgram", f"{_DLM}.word2vec:SkipGram", "word2vec skip-gram, negative sampling or hierarchical softmax, on Ray Train", "embed"),
    Entry("cbow", f"{_DLM}.word2vec:CBOW", "word2vec CBOW, negative sampling or hierarchical softmax, on Ray Train", "embed"),
    Entry("glove", f"{_DLM}.glove:GloVe", "GloVe: co-occurrence counts in Ray tasks, weighted least squares with AdaGrad", "embed"),
    Entry("lstm_lm", f"{_DLM}.language_model:LSTMLanguageModel", "word-level LSTM language model: perplexity, sampled text", "language_model"),
)
DATASETS: dict[str, Entry] = _named(
    Entry("digits", f"{_DLD}:digits", "scikit-learn's 1,797 8x8 handwritten digits (real data), 10 classes"),
    Entry("digits-sequences", f"{_DLD}:digits_sequences", "the digits read row by row: 8 steps x 8 features"),
    Entry("digits-0to4", f"{_DLD}:digits_0to4", "digits 0-4 (transfer learning: pre-training task)"),
    Entry("digits-5to9", f"{_DLD}:digits_5to9", "digits 5-9 relabelled 0-4 (transfer learning: target task)"),
    Entry("linear-2d", f"{_DLD}:linear_2d", "two linearly separable Gaussian blobs (seed 0)"),
    Entry("xor-2d", f"{_DLD}:xor_2d", "XOR of the unit square's corners with jitter (seed 0)"),
    Entry("moons-2d", f"{_DLD}:moons_2d", "scikit-learn two moons, noise 0.15 (seed 0)"),
    Entry("sine-regression", f"{_DLD}:sine_regression", "y = sin(x) + noise on [-3, 3] (seed 0)"),
    Entry("shapes", "trainfleet.dl.data.shapes:shapes", "2,000 generated 32x32 RGB scenes of two shapes: masks, boxes, 3 captions each (seed 0)"),
    Entry("shapes-test", "trainfleet.dl.data.shapes:shapes_test", "500 more shape scenes from seed 1: a held-out test set"),
    Entry("moving-digits", "trainfleet.dl.data.videos:moving_digits", "1,797 videos (8 frames, 20x20) of a digit moving two ways, with captions (seed 0)"),
    Entry("lee", f"{_TXT}:lee", "gensim's Lee background corpus: 300 news documents, ~60k tokens"),
    Entry("wiki-head500", f"{_TXT}:wiki_head500", "gensim's first 500 Wikipedia articles, ~331k tokens, lower-cased and stemmed"),
    Entry("polarity", f"{_TXT}:polarity", "gensim's 200 Pang & Lee movie-review sentences, positive/negative"),
)


ALLOW_IMPORTS_ENV = "TRAINFLEET_ALLOW_IMPORTS"


def algorithm(
    name: str, backend: str = "native", *, path: str = "algorithm", file: str | None = None,
    allow_imports: bool | None = None,
) -> Entry:
    """The entry for `name` on `backend`, or a SpecError naming the valid choices.

    `package.module:Class` names a user's own algorithm. Importing it runs that module's code,
    so a spec may do so only where the user opted in with TRAINFLEET_ALLOW_IMPORTS=1 (checked
    when the spec is validated; the trial then trusts the validated spec: allow_imports=True).
    """
    entry = ALGORITHMS.get((name, backend))
    if entry is not None:
        return entry
    if ":" in name and backend == "native":
        if allow_imports is None:
            allow_imports = os.environ.get(ALLOW_IMPORTS_ENV) == "1"
        if not allow_imports:
            raise SpecError(
                f"{excerpt(name)} names a module to import; job specs run no code of their own by default. "
                f"Set {ALLOW_IMPORTS_ENV}=1 to allow your own algorithms.",
                file=file,
                path=path,
            )
        return _import_path_entry(name, path=path, file=file)
    names = sorted({n for n, b in ALGORITHMS if b == backend})
    other = [b for n, b in ALGORITHMS if n == name]
    if other:
        hint = f"; {excerpt(name)} exists for backend {other[0]!r}"
    else:
        hint = did_you_mean(name, names)
    raise SpecError(
        f"unknown algorithm {excerpt(name)} for backend {backend!r}{_end(hint)} Run `trainfleet list algorithms` "
        "to see all, or name your own as `package.module:Class`.",
        file=file,
        path=path,
    )


def _end(hint: str) -> str:
    """Close a sentence that may end in a did-you-mean question."""
    return hint if hint.endswith("?") else hint + "."


def _import_path_entry(target: str, *, path: str, file: str | None) -> Entry:
    """A user's own Algorithm subclass named `package.module:Class` (importable on every Ray worker:
    installed, on PYTHONPATH, or inside a submitted job's working_dir)."""
    from trainfleet.rl.core.algorithm import Algorithm

    entry = Entry(target, target, "user algorithm", "user")
    try:
        cls = entry.load()
    except (ImportError, AttributeError, ValueError) as err:
        raise SpecError(f"cannot import algorithm {excerpt(target)}: {err}", file=file, path=path) from None
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise SpecError(f"{excerpt(target)} is not a trainfleet Algorithm subclass", file=file, path=path)
    return entry


def named(table: dict[str, Entry], kind: str, name: str, *, path: str, file: str | None = None) -> Entry:
    """Look a model or dataset up by name with the same friendly miss as algorithms."""
    if name in table:
        return table[name]
    raise SpecError(
        f"unknown {kind} {excerpt(name)}{_end(did_you_mean(name, table))} Run `trainfleet list {kind}s` to see all.",
        file=file,
        path=path,
    )


def register_envs() -> None:
    """Register trainfleet's own gymnasium envs (idempotent)."""
    importlib.import_module("trainfleet.rl.envs")


def env_ids() -> list[str]:
    """Every environment id a job may name: gymnasium's, ours and, if installed, Atari's."""
    import gymnasium

    register_envs()
    try:
        import ale_py

        gymnasium.register_envs(ale_py)
    except ImportError:
        pass
    return sorted(gymnasium.envs.registry)


def check_env_id(env_id: str, *, path: str = "env.id", file: str | None = None) -> None:
    ids = env_ids()
    if env_id not in ids:
        raise SpecError(
            f"unknown environment {excerpt(env_id)}{_end(did_you_mean(env_id, ids))} Run `trainfleet list envs` to see all.",
            file=file,
            path=path,
        )
