"""stages.core.precision: the CPU's native bf16, the scoring precision `evaluate.precision` picks, and scoring
under it (the matrix products really run in bf16; the probabilities stay close to fp32's)."""

from __future__ import annotations

import numpy as np
import pytest

from stages.core import modeling, precision

SPR = "fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"   # Sapphire Rapids: AMX
ZEN3 = "fpu sse avx2 fma"                                              # no bf16 at all
ZEN4 = "fpu sse avx2 avx512f avx512bw avx512_bf16"                      # AMD Zen 4: AVX512-BF16 only

TEXTS = ["you won't believe what the mayor found", "city council approved a budget", "storm",
         "10 secrets nobody saw coming about the truth of coffee in texas", "bank rates rise again"]


@pytest.mark.parametrize("flags, expected", [
    (SPR, True), (ZEN4, True),
    ("fpu sse avx2 amx_bf16", True),
    ("fpu sse avx2 avx512f avx512bw avx512vl", False),  # AVX512 without bf16: oneDNN emulates it
    ("fpu sse avx2 avx512_bf16x", False),               # whole flags only
    ("", False),                                        # not Linux / unreadable
])
def test_cpu_bf16_is_read_from_the_flags(flags, expected):
    assert precision.cpu_bf16_native(flags) is expected


def test_cpu_flags_reads_the_first_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert precision.cpu_flags(str(info)) == "fpu avx512_bf16"
    assert precision.cpu_flags(str(tmp_path / "missing")) == ""


@pytest.mark.parametrize("requested, device, capability, cpu_bf16, expected", [
    ("auto", "cpu", None, True, "bf16"),      # AMX / AVX512-BF16
    ("auto", "cpu", None, False, "fp32"),     # emulated bf16 would be slower: never picked
    ("auto", "cuda", (8, 0), False, "bf16"),  # A100
    ("auto", "cuda", (7, 5), False, "fp32"),  # T4
    ("fp32", "cpu", None, True, "fp32"),
    ("bf16", "cpu", None, False, "bf16"),     # asked for: honoured
])
def test_scoring_precision(requested, device, capability, cpu_bf16, expected):
    assert precision.scoring(requested, device, capability, cpu_bf16) == expected


def test_scoring_choice_is_logged_with_its_reason(monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_flags", lambda: SPR)
    with caplog.at_level("INFO", logger=precision.__name__):
        assert precision.scoring_for("auto", "cpu") == "bf16"
        monkeypatch.setattr(precision, "cpu_flags", lambda: ZEN3)
        assert precision.scoring_for("auto", "cpu") == "fp32"
    assert "scoring precision bf16 (evaluate.precision auto): CPU with native bf16 (amx_bf16, avx512_bf16)" \
        in caplog.text
    assert "CPU without native bf16" in caplog.text


@pytest.fixture(scope="module")
def classifier(tiny_bert):
    import torch

    torch.manual_seed(0)
    model = modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"])
    with torch.no_grad():
        model.classifier.weight.mul_(10)  # spread the probabilities so the rows differ
    return model, modeling.load_tokenizer(str(tiny_bert))


def linear_dtypes(model, run):
    """The dtypes the model's Linear layers produced while `run()` ran."""
    import torch

    seen = set()
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
             for m in model.modules() if isinstance(m, torch.nn.Linear)]
    try:
        result = run()
    finally:
        for h in hooks:
            h.remove()
    return seen, result


def test_bf16_scoring_runs_the_matrix_products_in_bf16_and_stays_close_to_fp32(classifier):
    import torch

    model, tokenizer = classifier
    fp32_dtypes, fp32 = linear_dtypes(model, lambda: modeling.predict_proba(model, tokenizer, TEXTS, 2))
    bf16_dtypes, bf16 = linear_dtypes(model, lambda: modeling.predict_proba(model, tokenizer, TEXTS, 2,
                                                                            precision="bf16"))
    assert fp32_dtypes == {torch.float32} and bf16_dtypes == {torch.bfloat16}
    assert bf16.dtype == np.float64 and np.allclose(bf16.sum(1), 1)
    assert np.abs(bf16 - fp32).max() < 0.05 and not np.array_equal(bf16, fp32)  # bf16: 8 bits of mantissa
    assert next(model.parameters()).dtype == torch.float32  # autocast: the weights stay fp32


def test_bf16_embeddings_stay_close_to_fp32(tiny_bert):
    from transformers import AutoModel

    model, tokenizer = AutoModel.from_pretrained(str(tiny_bert)), modeling.load_tokenizer(str(tiny_bert))
    fp32 = modeling.embed(model, tokenizer, TEXTS, 4)
    bf16 = modeling.embed(model, tokenizer, TEXTS, 4, precision="bf16")
    assert bf16.dtype == np.float64 and bf16.shape == fp32.shape
    cosine = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cosine.min() > 0.99
