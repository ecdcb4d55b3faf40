"""DP configuration, accounting math, canary statistics and the report: no training here."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from leakguard.dp import parse_dp_config, require_dp
from leakguard.dp.canary import (
    epsilon_lower_bound,
    exposure,
    make_secrets,
    one_run_audit,
    p_value_dp_audit,
)
from leakguard.dp.config import check_delta, load_dp_config
from leakguard.dp.data import privacy_units, read_examples
from leakguard.dp.report import posterior_bound, render_privacy_md
from leakguard.exceptions import ConfigError, DatasetError, MissingExtraError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _config(**sections: object) -> dict[str, object]:
    return {"data": {"path": "corpus.txt"}, **sections}


def test_delta_at_or_above_one_over_n_is_refused_with_the_bound() -> None:
    config = parse_dp_config(_config(privacy={"delta": 0.01}))
    with pytest.raises(
        ConfigError, match=r"privacy.delta = 0.01 is not below 1/N = 0.01 for N = 100"
    ):
        check_delta(config.privacy, 100)


def test_default_delta_is_one_over_ten_n() -> None:
    config = parse_dp_config(_config())
    assert check_delta(config.privacy, 250) == pytest.approx(1 / 2500)


def test_shuffle_sampling_is_refused_because_accounting_assumes_poisson() -> None:
    with pytest.raises(ConfigError, match=r"breaks the accounting.*assumes Poisson sampling"):
        parse_dp_config(_config(privacy={"sampling": "shuffle"}))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_config(privacy={"epsilon": 3}), "unknown key 'privacy.epsilon'"),
        (_config(training={"epochs": 1, "steps": 5}), "not both"),
        (_config(model={"d_model": 30, "heads": 4}), "multiple of model.heads"),
        ({"privacy": {}}, "missing key 'data'"),
    ],
)
def test_bad_dp_configs_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_dp_config(data)


def test_relative_data_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("data: {path: corpus.jsonl}\n", encoding="utf-8")
    assert load_dp_config(path).data.path == tmp_path / "corpus.jsonl"


def test_shipped_example_config_loads() -> None:
    config = load_dp_config(EXAMPLES / "dp_tiny_lm.yaml")
    assert config.data.path.exists()
    assert config.privacy.accountant == "prv"


def test_bad_jsonl_line_names_file_and_line_not_its_text(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "ok"}\n\n{"txt": "secret jane@corp.io"}\n', encoding="utf-8")
    config = parse_dp_config({"data": {"path": str(path)}})
    with pytest.raises(DatasetError, match=r"c.jsonl:3: field 'text' missing") as info:
        read_examples(config.data, need_label=False, need_user=False)
    assert "jane" not in str(info.value)


def test_user_units_cap_each_users_examples(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"text": f"t{i}", "user_id": "a" if i < 7 else "b"}) for i in range(9)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = parse_dp_config({"data": {"path": str(path)}, "privacy": {"unit": "user"}})
    examples = read_examples(config.data, need_label=False, need_user=True)
    units = privacy_units(examples, unit="user", max_per_user=3, seed=0)
    assert [len(u) for u in units] == [3, 2]
    assert set(units[0]) <= set(range(7))


def test_missing_dp_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['opacus'] = None\n"
        "from leakguard.dp import require_dp\n"
        "try:\n    require_dp()\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'leakguard[dp]'" in out.stdout
    assert "'opacus'" in out.stdout
    require_dp()  # installed here


def test_lazy_dp_functions_load_on_access_with_their_real_signatures() -> None:
    code = (
        "import inspect, sys\n"
        "import leakguard.dp as dp\n"
        "assert 'torch' not in sys.modules\n"
        "from leakguard.dp.training import train_private\n"
        "assert dp.train_private is train_private\n"
        "print(inspect.signature(dp.run_training))\n"
        "print(inspect.signature(dp.train_private))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "resume: 'bool' = False" in out.stdout
    assert "per_sample_loss: 'PerSampleLoss'" in out.stdout
    blocked = (
        "import sys; sys.modules['opacus'] = None\n"
        "try:\n    from leakguard.dp import train_private\nexcept ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=True
    )
    assert "pip install 'leakguard[dp]'" in out.stdout


def test_missing_extra_error_is_an_import_error() -> None:
    assert issubclass(MissingExtraError, ImportError)


def test_exposure_of_the_best_scoring_canary_is_log2_of_candidates_plus_one() -> None:
    rng = random.Random(0)
    candidates = [rng.gauss(100.0, 10.0) for _ in range(1023)]
    result = exposure(30.0, candidates)  # 7 standard deviations below: far past the cap
    assert result.rank == 0
    assert result.bits == pytest.approx(10.0)
    assert result.fitted_bits > 10.0


def test_exposure_of_a_typical_canary_is_about_one_bit() -> None:
    candidates = [float(x) for x in range(1000)]
    assert exposure(499.5, candidates).bits == pytest.approx(-math.log2(501 / 1001))


def test_one_run_p_value_matches_the_binomial_tail_without_delta() -> None:
    # P[Binomial(10, q) >= 10] = q^10 with q = 1 / (1 + e^-eps).
    q = 1 / (1 + math.exp(-1.0))
    assert p_value_dp_audit(100, 10, 10, 1.0, 0.0) == pytest.approx(q**10)


def test_one_run_bound_for_all_correct_guesses_is_pinned() -> None:
    # 100/100 correct at 95%: q^100 = 0.05, eps = logit(0.05^(1/100)) = 3.4930.
    assert epsilon_lower_bound(1000, 100, 100, delta=0.0, beta=0.05) == pytest.approx(
        3.49297, abs=1e-4
    )


def test_one_run_audit_of_random_scores_certifies_almost_nothing() -> None:
    rng = random.Random(1)
    included = [rng.random() < 0.5 for _ in range(200)]
    scores = [rng.random() for _ in range(200)]
    audit = one_run_audit(scores, included, delta=1e-5, confidence=0.95)
    assert audit.guesses == 100
    assert audit.epsilon_lower_bound < 0.5
    assert audit.max_certifiable > 2.0


def test_one_run_audit_of_perfect_scores_reaches_the_certifiable_maximum() -> None:
    included = [i % 2 == 0 for i in range(64)]
    scores = [1.0 if inside else 0.0 for inside in included]
    audit = one_run_audit(scores, included, delta=1e-5, confidence=0.95)
    assert audit.correct == audit.guesses == 32
    assert audit.epsilon_lower_bound == pytest.approx(audit.max_certifiable)


def test_secrets_are_distinct_digit_strings() -> None:
    secrets = make_secrets(50, digits=4, rng=random.Random(0))
    assert len(set(secrets)) == 50
    assert all(len(s) == 4 and s.isdigit() for s in secrets)


def test_posterior_bound_for_a_coin_flip_prior() -> None:
    assert posterior_bound(math.log(3), 0.5) == pytest.approx(0.75)


def test_privacy_md_states_both_epsilons_and_plain_words() -> None:
    report = {
        "private": True,
        "epsilon": 2.9,
        "epsilons": {"prv": 2.9, "rdp": 3.4},
        "accountant": "prv",
        "target_epsilon": 3.0,
        "delta": 1e-5,
        "privacy_unit": "user",
        "unit_cap": 4,
        "noise_multiplier": 1.1,
        "sample_rate": 0.01,
        "steps": 100,
        "planned_steps": 100,
        "stopped": "completed",
        "epochs": 1.0,
        "max_grad_norm": 1.0,
        "dataset_size": 1000,
        "examples": 3000,
        "engine": "ghost",
        "secure_mode": False,
        "versions": {"python": "3", "leakguard": "0", "torch": "2", "opacus": "1.6.0"},
    }
    text = render_privacy_md(report)
    assert "| ε (prv accountant, reported) | 2.900 |" in text
    assert "| ε (rdp accountant, cross-check) | 3.400 |" in text
    assert "at most 4 examples per user" in text
    assert "coin flip (50%) can end up at most 94.8% sure" in text


def _audit(plain_median: float) -> dict[str, object]:
    side = {
        "median_exposure": 1.0,
        "max_exposure": 3.0,
        "one_run": {"epsilon_lower_bound": 0.0, "max_certifiable": 1.55},
    }
    plain = {**side, "median_exposure": plain_median, "max_exposure": plain_median}
    return {
        "canaries": 32,
        "secret_digits": 6,
        "repetitions": 8,
        "candidates": 4095,
        "confidence": 0.95,
        "dp": side,
        "non_dp": plain,
    }


@pytest.mark.parametrize(
    ("plain_median", "sentence"),
    [(12.0, "are memorised: the audit can see leakage"), (2.0, "could not have seen leakage")],
)
def test_audit_section_says_whether_the_reference_model_memorised(
    plain_median: float, sentence: str
) -> None:
    report = {
        "private": True,
        "epsilon": 8.0,
        "epsilons": {"prv": 8.0, "rdp": 9.0},
        "accountant": "prv",
        "target_epsilon": 8.0,
        "delta": 1e-4,
        "privacy_unit": "example",
        "unit_cap": 1,
        "noise_multiplier": 0.9,
        "sample_rate": 0.2,
        "steps": 40,
        "planned_steps": 40,
        "stopped": "completed",
        "epochs": 8.0,
        "max_grad_norm": 1.0,
        "dataset_size": 300,
        "examples": 300,
        "engine": "hooks",
        "secure_mode": False,
        "versions": {"opacus": "1.6.0"},
        "audit": _audit(plain_median),
    }
    text = render_privacy_md(report)
    assert "| median exposure of planted canaries | 1.00 | " in text
    assert "at most 12.0 bits measurable" in text
    assert "can certify at most ε ≥ 1.55" in text
    assert sentence in text
    assert "99.966% sure" in text
