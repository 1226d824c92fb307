"""Benchmark the train stage against the tutorial way of fine-tuning (issue: train, fast on CPU and GPU).

CPU mode (default): the default data (template provider, generated into a temporary directory; --split DIR:
your own train.csv, val.csv and test.csv instead, e.g. data/split after `dvc repro`), MiniLM, two epochs
(--epochs; after one epoch test macro-F1 still swings by 0.15 between seeds), side by side:
  tutorial     each split tokenized at once with padding=True (to the split's longest row), truncation at
               512, fixed random batches, eager attention, AdamW without the fused kernel;
  tutorial-512 the same with every row padded to 512 tokens (padding="max_length", the Hugging Face
               fine-tuning tutorial); only a few steps, for its rate (padding is masked, so its model equals
               the tutorial's up to rounding);
  train stage  `stages.train.run`: dynamic padding, length-grouped batches, max_length from the token-length
               distribution, fused AdamW, SDPA attention, evaluation under torch.inference_mode.
  stage, bf16  the train stage with train.precision: bf16, on CPUs with native bf16 (AVX512-BF16, AMX).
Each runs once per seed (base.seed, +1, ...), alternating. Training samples/s counts the optimizer steps only
(forward, backward, update; evaluation and checkpoints excluded), the fastest run of each (other processes
on a shared machine slow some runs); CPU seconds are shown too. Test macro-F1: the mean over the seeds.
Tokens/row: the positions (padding included) the training forward passes process per row; the speed-up then
splits into fewer tokens (padding dropped) and cheaper tokens (kernels), and "no padding at all" is the most
that dropping padding can give on this data.
Target: >= 3x the tutorial's samples/s with test macro-F1 within 0.01.
--data long: the same split with each row's text replaced by 4-8 texts of its label (from the same split file)
joined into one, about 60-120 tokens. --precision fp32,bf16: the stage rows to run (default: fp32, plus bf16
on a CPU with native bf16); their macro-F1 gap is the parity check behind `train.precision: auto`
(CPU_AUTO_BF16 in stages/training/controls.py). --no-tutorial: the stage rows only.

GPU mode (--gpu): a BERT-base-sized encoder (random weights, no download) trained by the train stage at
sequence length 128 (bf16 where supported): samples/s and model FLOPs utilisation (target > 35%).

Usage (repository root, .venv active): python benchmarks/train.py [--epochs 2] [--seeds 5] [--split DIR]
  [--data default|long] [--precision fp32,bf16] [--no-tutorial] [--gpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages import train  # noqa: E402
from stages.core import modeling, params, precision  # noqa: E402
from stages.training import controls  # noqa: E402

# Dense bf16 tensor-core peak (TFLOP/s) by GPU name; --peak-tflops for others.
PEAK_BF16 = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
             "A6000": 155.0, "4090": 165.0}


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall and CPU seconds of each optimizer step (forward, backward, update), and the tokens the training
        forward passes processed: all positions (padding included) and the real ones (attention mask)."""

        def __init__(self) -> None:
            self.wall: list[float] = []
            self.cpu: list[float] = []
            self.positions = self.real = self.rows = 0

        def on_train_begin(self, args, state, control, model=None, **kw):
            def count(module, inputs, kwargs):
                ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
                if module.training and ids is not None:
                    self.positions += ids.numel()
                    self.rows += ids.shape[0]
                    self.real += int(mask.sum()) if mask is not None else ids.numel()

            model.register_forward_pre_hook(count, with_kwargs=True)

        def tokens_per_row(self) -> tuple[float, float]:
            """(positions, real tokens) per training row."""
            return self.positions / max(self.rows, 1), self.real / max(self.rows, 1)

        def on_step_begin(self, args, state, control, **kw):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            self.wall.append(time.perf_counter() - self.t)
            self.cpu.append(time.process_time() - self.c)

    return StepTimer()


def make_data(tmp: Path) -> Path:
    """Run the inputs, generate and split commands of dvc.yaml in `tmp` with this repository's params."""
    import yaml

    shutil.copy2(ROOT / "params.yaml", tmp / "params.yaml")
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for dep in stages["inputs"]["deps"] + stages["generate"]["deps"]:  # task files, raw rows, prices, focus
        src = ROOT / dep
        if dep.startswith("data/") and src.exists():
            (tmp / dep).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp / dep)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("inputs", "generate", "split"):
        cmd = shlex.split(stages[name]["cmd"])
        cmd[0] = sys.executable if cmd[0] == "python" else cmd[0]
        done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return tmp / "data" / "split"


def test_f1(model, tokenizer, split: Path) -> float:
    import pandas as pd
    from sklearn.metrics import f1_score

    test = pd.read_csv(split / "test.csv", dtype=str, keep_default_na=False)
    proba = modeling.predict_proba(model.to("cpu"), tokenizer, test["text"].tolist(), 128)
    labels = modeling.labels_of(model)
    return float(f1_score(test["label"], [labels[i] for i in proba.argmax(1)], average="macro"))


def tutorial(cfg: params.Train, seed: int, split: Path, out: Path, padding, max_steps: int = -1):
    """The usual notebook: tokenize each split at once, fixed batches, plain Trainer."""
    import pandas as pd
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments,
                              default_data_collator, set_seed)

    set_seed(seed)
    frames = {s: pd.read_csv(split / f"{s}.csv", dtype=str, keep_default_na=False) for s in ("train", "val")}
    labels = sorted(set(frames["train"]["label"]))
    source = modeling.resolve_model(cfg.model)
    tok = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)}, attn_implementation="eager")

    def encode(df):
        enc = tok(df["text"].tolist(), padding=padding, truncation=True, max_length=512)
        return Dataset.from_dict({**enc, "labels": [labels.index(lab) for lab in df["label"]]})

    data = {s: encode(f) for s, f in frames.items()}
    args = TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=max_steps, learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio, lr_scheduler_type=cfg.lr_scheduler,
        optim="adamw_torch", eval_strategy="epoch" if max_steps < 0 else "no", save_strategy="no",
        seed=seed, report_to="none", disable_tqdm=True, use_cpu=True)
    timer = step_timer()
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["val"],
                      data_collator=default_data_collator, callbacks=[timer])
    trainer.train()
    return model, tok, timer, len(data["train"][0]["input_ids"])


def make_long(split: Path, out: Path, seed: int) -> Path:
    """A long-text copy of `split`: every row's text becomes 4-8 texts of its label from the same file joined
    (the row's own first), so the labels and their counts stay and the texts grow to about 60-120 tokens."""
    import random

    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val", "test"):
        df = pd.read_csv(split / f"{name}.csv", dtype=str, keep_default_na=False)
        rng, by_label = random.Random(f"{seed}-{name}"), df.groupby("label")["text"].apply(list).to_dict()
        df["text"] = [" ".join([text, *rng.sample(by_label[lab], min(len(by_label[lab]), rng.randint(3, 7)))])
                      for text, lab in zip(df["text"], df["label"])]
        df.to_csv(out / f"{name}.csv", index=False)
    return out


def cpu_precisions(spec: str) -> list[str]:
    """The stage's precisions to run: a comma list, or auto (fp32, plus bf16 where the CPU runs it natively)."""
    if spec == "auto":
        return ["fp32", "bf16"] if precision.cpu_bf16_native(precision.cpu_flags()) else ["fp32"]
    return [p.strip() for p in spec.split(",") if p.strip()]


def cpu_mode(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = params.load("base", ROOT / "params.yaml")
    cfg = dataclasses.replace(params.load("train", ROOT / "params.yaml"), epochs=float(args.epochs))
    print(f"machine: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}; model {cfg.model}, {cfg.epochs:g} epochs, batch {cfg.batch_size}, "
          f"{args.seeds} seeds each")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_name:
        tmp = Path(tmp_name)
        split = args.split or make_data(tmp)
        if args.data == "long":
            split = make_long(split, tmp / "long", base.seed)
        for name in ("train", "val", "test"):
            if not (split / f"{name}.csv").is_file():
                raise SystemExit(f"error: --split {split}: no {name}.csv (expected train.csv, val.csv and test.csv "
                                 "with columns text and label)")
        n = len(pd.read_csv(split / "train.csv")) * cfg.epochs

        def stage(run_cfg: params.Train, seed: int, out: Path) -> tuple:
            timer = step_timer()
            summary = train.run(cfg=run_cfg, seed=seed, split_dir=split, model_dir=out / "model", reports=out / "reports", checkpoint_dir=out / "ckpt", callbacks=[timer])
            model = AutoModelForSequenceClassification.from_pretrained(str(out / "model"))
            f1 = test_f1(model, AutoTokenizer.from_pretrained(str(out / "model")), split)
            return (n / sum(timer.wall), n / sum(timer.cpu), f1, f"max_length {summary['max_length']}, grouped",
                    *timer.tokens_per_row())

        def tut(run_cfg: params.Train, seed: int, out: Path) -> tuple:
            model, tok, timer, width = tutorial(run_cfg, seed, split, out, padding=True)
            return (n / sum(timer.wall), n / sum(timer.cpu), test_f1(model, tok, split), f"padded to {width}",
                    *timer.tokens_per_row())

        runs = {} if args.no_tutorial else {"tutorial": (tut, cfg)}
        for prec in cpu_precisions(args.precision):
            runs["train stage" if prec == "fp32" else f"stage, {prec}"] = (
                stage, dataclasses.replace(cfg, precision=prec))
        seen: dict[str, list[tuple]] = {name: [] for name in runs}
        for r in range(args.seeds):  # alternate, so a burst of load from elsewhere hits one run, not all
            for name, (fn, run_cfg) in runs.items():
                seen[name].append(fn(run_cfg, base.seed + r, tmp / f"{len(seen[name])}-{name.replace(' ', '_')}"))

        if args.tutorial512_steps > 1 and not args.no_tutorial:
            _, _, timer, width = tutorial(cfg, base.seed, split, tmp / "tut512", padding="max_length",
                                          max_steps=args.tutorial512_steps)
            k = cfg.batch_size * (len(timer.wall) - 1)  # the first step is warm-up
            seen["tutorial-512"] = [(k / sum(timer.wall[1:]), k / sum(timer.cpu[1:]), None,
                                     f"padded to {width}, {len(timer.wall) - 1} steps timed",
                                     *timer.tokens_per_row())]

    print_cpu_table(seen)


def print_cpu_table(seen: dict[str, list[tuple]]) -> None:
    # Speed: the fastest run of each (least disturbed by other processes); quality: the mean over the seeds.
    speed = {name: max(found, key=lambda x: x[0]) for name, found in seen.items()}
    f1 = {name: [x[2] for x in found] for name, found in seen.items() if found[0][2] is not None}
    print(f"{'':14}{'train samples/s':>16}{'per CPU-s':>11}{'tokens/row':>12}   "
          f"{'test macro-F1 (mean, min-max)':<31}padding")
    for name, (wall, cpu, _, note, positions, _real) in speed.items():
        scores = f1.get(name)
        text = f"{sum(scores) / len(scores):.4f} ({min(scores):.4f}-{max(scores):.4f})" if scores else "= tutorial"
        print(f"{name:14}{wall:16.1f}{cpu:11.1f}{positions:12.1f}   {text:<31}{note}")
    mean = {name: sum(v) / len(v) for name, v in f1.items()}
    for name in [k for k in speed if k.startswith("stage, ") and "train stage" in speed]:
        diffs = [a - b for a, b in zip(f1[name], f1["train stage"])]  # paired by seed
        print(f"{name} vs fp32 stage (parity for train.precision auto): {speed[name][0] / speed['train stage'][0]:.2f}x "
              f"samples/s; macro-F1 mean gap {mean[name] - mean['train stage']:+.4f}, per seed "
              f"{' '.join(f'{d:+.3f}' for d in diffs)} ({len(diffs)} seeds; parity: |mean gap| <= 0.01)")
    if "tutorial" not in speed:
        return
    real = speed["tutorial"][5]
    print(f"tokens/row: positions each training row costs in the forward passes, padding included; the texts "
          f"themselves average {real:.1f} tokens ([CLS] and [SEP] included)")
    for name in [k for k in speed if k.startswith(("train stage", "stage"))]:
        gap = abs(mean[name] - mean["tutorial"])
        line = (f"{name} vs tutorial: {speed[name][0] / speed['tutorial'][0]:.2f}x samples/s "
                f"({speed[name][1] / speed['tutorial'][1]:.2f}x per CPU-second)")
        if "tutorial-512" in speed:
            line += f", vs tutorial-512: {speed[name][0] / speed['tutorial-512'][0]:.0f}x"
        print(line + f"; mean test macro-F1 gap {gap:.4f} (target <= 0.01: {'ok' if gap <= 0.01 else 'MISSED'})")
        # Padding is the only work the stage drops; the rest (fused AdamW, SDPA) makes each token cheaper.
        fewer = speed["tutorial"][4] / speed[name][4]
        print(f"  of which fewer tokens: {fewer:.2f}x ({speed['tutorial'][4]:.1f} -> {speed[name][4]:.1f} per row; "
              f"no padding at all would give {speed['tutorial'][4] / real:.2f}x), "
              f"cheaper tokens: {speed[name][0] / speed['tutorial'][0] / fewer:.2f}x")
    auto = controls.choose_precision("auto", "cpu", None, precision.cpu_bf16_native(precision.cpu_flags()))
    row = "stage, bf16" if auto == "bf16" and "stage, bf16" in speed else "train stage"
    ratio = speed[row][0] / speed["tutorial"][0]
    print(f"target: >= 3x the tutorial's training samples/s with the default params (train.precision auto is {auto} "
          f"on this CPU: the {row!r} row, {ratio:.2f}x: {'ok' if ratio >= 3 else 'MISSED'})")


def flops_per_token(model, seq: int) -> float:
    """Training FLOPs per token: 6 x non-embedding parameters + attention scores and values (12 L H S)."""
    emb = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    dense = sum(p.numel() for p in model.parameters()) - emb
    cfg = model.config
    return 6 * dense + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq


def gpu_mode(args: argparse.Namespace) -> None:
    import random

    import pandas as pd
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs a CUDA GPU")
    name = torch.cuda.get_device_name()
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16.items() if k in name), None)
    seq, batch, steps = 128, args.gpu_batch_size, args.gpu_steps
    with tempfile.TemporaryDirectory(prefix="bench-train-gpu-") as tmp_name:
        tmp = Path(tmp_name)
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(30517)]
        BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, model_max_length=512).save_pretrained(tmp / "base")
        BertModel(BertConfig()).save_pretrained(tmp / "base")  # BERT-base: 12 layers, hidden 768, 110 M params
        rng = random.Random(0)
        (tmp / "split").mkdir()
        for split, n in (("train", batch * steps), ("val", 512)):
            texts = [" ".join(rng.choices(vocab[5:], k=seq - 2)) for _ in range(n)]
            pd.DataFrame({"text": texts, "label": [rng.choice("ab") for _ in range(n)]}).to_csv(
                tmp / "split" / f"{split}.csv", index=False)
        cfg = params.load_dict({"model": str(tmp / "base"), "epochs": 1, "batch_size": batch, "max_length": seq,
                                "precision": args.precision}, "train")
        timer = step_timer()
        summary = train.run(cfg=cfg, seed=0, split_dir=tmp / "split", model_dir=tmp / "model", reports=tmp / "reports", checkpoint_dir=tmp / "ckpt", callbacks=[timer])
        from transformers import AutoModelForSequenceClassification

        fpt = flops_per_token(AutoModelForSequenceClassification.from_pretrained(str(tmp / "model")), seq)
    timed = timer.wall[3:]  # the first steps are warm-up (allocator, kernel selection)
    rate = batch * len(timed) / sum(timed)
    achieved = rate * seq * fpt / 1e12
    print(f"GPU: {name}, precision {summary['precision']}, batch {batch}, seq {seq}, {len(timed)} steps timed")
    print(f"training samples/s: {rate:.1f}; {fpt / 1e9:.3f} GFLOP per token; {achieved:.1f} TFLOP/s achieved")
    if peak:
        print(f"model FLOPs utilisation: {100 * achieved / peak:.1f}% of {peak:g} TFLOP/s "
              f"(target > 35%: {'ok' if achieved / peak > 0.35 else 'MISSED'})")
    else:
        print("model FLOPs utilisation: unknown peak for this GPU; pass --peak-tflops")
    print(f"peak memory {summary['peak_memory_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="BERT-base at seq 128 on the GPU: samples/s and MFU")
    parser.add_argument("--epochs", type=float, default=2.0, help="CPU mode: epochs for both runs")
    parser.add_argument("--split", type=Path, help="CPU mode: a directory with train/val/test.csv (default: generate "
                                                   "the default data)")
    parser.add_argument("--seeds", type=int, default=5, help="CPU mode: runs of each, seeds base.seed, +1, ...")
    parser.add_argument("--tutorial512-steps", type=int, default=3, help="steps of the pad-to-512 run (0: skip)")
    parser.add_argument("--gpu-batch-size", type=int, default=128)
    parser.add_argument("--gpu-steps", type=int, default=40)
    parser.add_argument("--precision", default="auto", help="train.precision for --gpu (auto: bf16 if supported); "
                        "CPU mode: the stage's precisions, a comma list (auto: fp32, plus bf16 if native)")
    parser.add_argument("--data", choices=("default", "long"), default="default",
                        help="CPU mode: the split as is, or its long-text version (4-8 texts of a label joined)")
    parser.add_argument("--no-tutorial", action="store_true", help="CPU mode: only the stage's rows")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, for MFU")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    (gpu_mode if args.gpu else cpu_mode)(args)


if __name__ == "__main__":
    main()
