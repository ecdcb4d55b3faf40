"""The DP training configuration: one frozen pydantic tree, unknown keys rejected.

A DP job has its own YAML file (``leakguard dp train CONFIG.yaml``), loaded with
:func:`load_dp_config`. Checks that need the data (δ against the dataset size) run in
:func:`check_delta` once the data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from leakguard.config import read_yaml, validate_mapping
from leakguard.exceptions import ConfigError

__all__ = [
    "AuditConfig",
    "AuditProbeConfig",
    "DPConfig",
    "DataConfig",
    "HFModelConfig",
    "LoRAConfig",
    "ModelConfig",
    "PrivacyConfig",
    "TrainingConfig",
    "check_delta",
    "default_delta",
    "load_dp_config",
    "parse_dp_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """The training corpus: plain text (one example per non-empty line) or JSON Lines."""

    path: Path
    format: Literal["auto", "text", "jsonl"] = "auto"
    text_field: str = "text"
    label_field: str = "label"
    # Needed when privacy.unit is "user": which field names the person an example is about.
    user_field: str = "user_id"
    # Tokens per example for the built-in byte-level tokenizer (longer examples are cut).
    max_length: int = Field(default=128, ge=8, le=4096)


class ModelConfig(_Section):
    """The built-in small byte-level transformer."""

    kind: Literal["builtin"] = "builtin"
    d_model: int = Field(default=64, ge=8, le=2048)
    layers: int = Field(default=2, ge=1, le=48)
    heads: int = Field(default=4, ge=1, le=64)
    # all: every parameter; top: the last `top_layers` blocks and the head; lora: low-rank adapters.
    trainable: Literal["all", "top", "lora"] = "all"
    top_layers: int = Field(default=1, ge=0)
    lora_rank: int = Field(default=8, ge=1, le=256)
    lora_alpha: float = Field(default=16.0, gt=0)

    @model_validator(mode="after")
    def _shape(self) -> ModelConfig:
        if self.d_model % self.heads:
            raise ValueError(
                f"model.d_model ({self.d_model}) must be a multiple of model.heads ({self.heads})"
            )
        if self.top_layers > self.layers:
            raise ValueError(
                f"model.top_layers ({self.top_layers}) exceeds model.layers ({self.layers})"
            )
        return self


class LoRAConfig(_Section):
    """peft LoRA adapters on a Hugging Face model: only the adapters train."""

    r: int = Field(default=8, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    # Module names (suffixes) to adapt, e.g. [q_proj, v_proj]; unset: peft's default for
    # the architecture.
    target_modules: tuple[str, ...] | None = Field(default=None, min_length=1)


class HFModelConfig(_Section):
    """A Hugging Face causal LM in a local directory (written by ``save_pretrained``, with
    its tokenizer). Never downloaded: a hub id is refused."""

    kind: Literal["hf"]
    path: Path
    # Unset: full fine-tuning (tied input/output embeddings are untied for DP).
    lora: LoRAConfig | None = None


def _model_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "builtin"))
    return str(getattr(value, "kind", "builtin"))


AnyModelConfig = Annotated[
    Annotated[ModelConfig, Tag("builtin")] | Annotated[HFModelConfig, Tag("hf")],
    Discriminator(
        _model_kind,
        custom_error_type="model_kind",
        custom_error_message="model.kind must be 'builtin' or 'hf'",
    ),
]


class PrivacyConfig(_Section):
    """The guarantee: (ε, δ), the clipping norm, the accountant, the sampler, the privacy unit."""

    target_epsilon: float = Field(default=8.0, gt=0, le=100)
    # Default: 1/(10·N) with N the number of privacy units. Must stay below 1/N.
    delta: float | None = Field(default=None, gt=0, lt=1)
    # Set it to fix σ yourself; target_epsilon then stays a hard budget that stops training.
    noise_multiplier: float | None = Field(default=None, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    accountant: Literal["prv", "rdp", "gdp"] = "prv"
    # Every accountant here assumes Poisson sampling; "shuffle" is accepted by the schema
    # only so that asking for it fails with an explanation instead of a parse error.
    sampling: Literal["poisson", "shuffle"] = "poisson"
    unit: Literal["example", "user"] = "example"
    # Privacy unit "user": each user's contribution is capped at this many examples.
    max_examples_per_user: int = Field(default=4, ge=1, le=1024)

    @model_validator(mode="after")
    def _poisson_only(self) -> PrivacyConfig:
        if self.sampling != "poisson":
            raise ValueError(
                f"privacy.sampling {self.sampling!r} breaks the accounting: the "
                f"{self.accountant!r} accountant assumes Poisson sampling (each example "
                f"joins each batch independently). Use sampling: poisson"
            )
        return self


class TrainingConfig(_Section):
    """How long and how: epochs or steps, logical and physical batch, optimizer, engine."""

    epochs: float | None = Field(default=None, gt=0)
    steps: int | None = Field(default=None, ge=1)
    # Expected logical batch (Poisson): sample rate = batch_size / N.
    batch_size: int = Field(default=64, ge=1)
    # Physical batches are cut to this size (Opacus' BatchMemoryManager).
    max_physical_batch_size: int = Field(default=64, ge=1)
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: float = Field(default=1e-3, gt=0)
    # Per-sample clipping: ghost clipping, per-sample gradient hooks, or a short probe of both.
    engine: Literal["auto", "ghost", "hooks"] = "auto"
    # engine auto on a GPU: pass over an engine whose probe peak memory exceeds a non-private
    # step's by more than this fraction (0.25 = +25%); if none fits, the leanest. Unset: the
    # fastest engine. On the CPU the probe only times.
    max_memory_overhead: float | None = Field(default=None, ge=0)
    seed: int = 0
    # Write a resumable checkpoint every this many steps (0: only at the end).
    checkpoint_every: int = Field(default=0, ge=0)
    # Train without DP (for comparisons and audits only; the report says so).
    private: bool = True
    # Where the model, the batches and Opacus' clipping and noise run. auto: CUDA if torch
    # sees a GPU, else the CPU. The trained model is handed back where it was.
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @model_validator(mode="after")
    def _one_length(self) -> TrainingConfig:
        if self.epochs is not None and self.steps is not None:
            raise ValueError("set training.epochs or training.steps, not both")
        return self


class AuditProbeConfig(_Section):
    """The extraction probe (``leakguard dp probe``) of both audit models: the same seeded
    prompts from the training data (canaries included) and from ``control``."""

    # Records of the same kind never trained on (relative to the YAML file).
    control: Path
    text_field: str = "text"
    prefixes: int = Field(default=200, ge=1, le=1_000_000)
    prefix_words: int = Field(default=6, ge=1, le=1000)
    suffix_words: int = Field(default=8, ge=1, le=1000)
    seed: int = 0
    batch_size: int = Field(default=64, ge=1, le=4096)
    # Count PII values of the true suffixes that the models recite (loads the PII pipeline).
    pii: bool = True


class AuditConfig(_Section):
    """The canary audit: random secrets planted in the training data."""

    canaries: int = Field(default=64, ge=2, le=100_000)
    # Each canary that is planted appears this many times (from one user, under user-level DP).
    repetitions: int = Field(default=4, ge=1, le=1000)
    # The secret part: this many random digits, after a fixed prefix.
    secret_digits: int = Field(default=6, ge=3, le=12)
    prefix: str = "my account pin is "
    # Candidates scored per canary to estimate its rank (exposure is capped at log2 of this).
    candidates: int = Field(default=4096, ge=16, le=1_000_000)
    # One-run audit confidence (1 - β) and δ for the Steinke-Nasr-Jagielski bound.
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    # Unset: no extraction probe in the audit.
    probe: AuditProbeConfig | None = None


class DPConfig(_Section):
    """The root of a DP training job."""

    version: Literal[1] = 1
    task: Literal["causal_lm", "classification"] = "causal_lm"
    data: DataConfig
    model: AnyModelConfig = Field(default_factory=ModelConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @model_validator(mode="after")
    def _hf_is_causal_lm(self) -> DPConfig:
        if isinstance(self.model, HFModelConfig) and self.task != "causal_lm":
            raise ValueError(
                f"model.kind 'hf' fine-tunes causal language models only; task {self.task!r} "
                f"needs the built-in model (model.kind: builtin)"
            )
        return self


def parse_dp_config(
    data: object, *, source: str = "<dp config>", base: Path | None = None
) -> DPConfig:
    """Validate a mapping; relative data, model and probe control paths are relative to
    ``base`` (the YAML's folder)."""
    config = validate_mapping(DPConfig, data, source=source, what="DP configuration")
    if base is None:
        return config
    update: dict[str, object] = {
        "data": config.data.model_copy(update={"path": base / config.data.path})
    }
    if isinstance(config.model, HFModelConfig):
        update["model"] = config.model.model_copy(update={"path": base / config.model.path})
    if config.audit.probe is not None:
        probe = config.audit.probe.model_copy(update={"control": base / config.audit.probe.control})
        update["audit"] = config.audit.model_copy(update={"probe": probe})
    return config.model_copy(update=update)


def load_dp_config(path: str | Path) -> DPConfig:
    """Load a DP job from YAML. A relative data path is relative to the file."""
    path = Path(path)
    data = read_yaml(path, what="DP config")
    return parse_dp_config(data, source=str(path), base=path.parent)


def default_delta(units: int) -> float:
    """δ = 1/(10·N): well below the 1/N at which releasing one record at random is 'private'."""
    return 1.0 / (10 * units)


def check_delta(privacy: PrivacyConfig, units: int) -> float:
    """The δ to use for ``units`` privacy units; refuses δ ≥ 1/N."""
    if units < 1:
        raise ConfigError("the training data is empty: no privacy units to train on")
    delta = privacy.delta if privacy.delta is not None else default_delta(units)
    if delta >= 1.0 / units:
        raise ConfigError(
            f"privacy.delta = {delta:g} is not below 1/N = {1.0 / units:g} for N = {units} "
            f"{privacy.unit}s: with δ ≥ 1/N a mechanism that publishes one whole record at "
            f"random still satisfies the guarantee. Set privacy.delta below {1.0 / units:g} "
            f"(e.g. {default_delta(units):g}, the default 1/(10·N)) or leave it unset"
        )
    return delta
