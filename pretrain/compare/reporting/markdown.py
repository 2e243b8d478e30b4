"""report.md, rendered from the results structure: the answer first, then the protocol that makes it
trustworthy (architecture, budgets, tuning, controls, statistics), then the evidence per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pretrain.compare.analysis.metrics import PRETRAIN_METRICS, TASK_METRICS
from pretrain.compare.analysis.stats import Summary
from pretrain.compare.planning.plan import FAMILIES
from pretrain.compare.reporting.arms_section import arms_section
from pretrain.compare.reporting.regime_section import regime_lines
from pretrain.compare.reporting.spread_section import spread_lines
from pretrain.compare.reporting.tuning_section import tuning_lines
from pretrain.compare.schema import ComparisonResults, PretrainingEffect, TaskResults
from tasks.copying_check import CANNOT_COPY_BELOW, COPY_ACC_KEY
from tasks.metric_spec import MetricSpec
from tasks.record import Reference
from tasks.registry import task_record


def render(results: ComparisonResults, plots: list[Path]) -> str:
    env, counts = results.environment, results.counts
    names = {p.name for p in plots}
    versions = ", ".join(f"{k} {v}" for k, v in env.versions.items() if v)
    commit = (env.git_commit or "unknown")[:12] + (" (uncommitted changes)" if env.git_dirty else "")
    lines = [
        f"# BERT vs GPT: {results.experiment}",
        "",
        f"Generated {env.created} from commit {commit} on {env.platform} "
        f"({env.cpu_count} CPUs, accelerator: {env.accelerator or 'none'}).",
        f"Versions: {versions}.",
        "",
        f"Runs: {counts.done} done, {counts.failed} failed, {counts.skipped} skipped.",
        "",
        "## The answer",
        "",
        *answer_lines(results),
        "",
        *(section + [""] if (section := arms_section(results)) else []),
        "## Protocol",
        "",
        *_protocol(results),
        "",
        "## Budgets",
        "",
        "| family | preset | parameters | non-embedding | train FLOPs/token | steps | tokens seen | "
        "tokens predicted | training FLOPs | wall time | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for family in FAMILIES:
        entry = results.pretraining.get(family)
        run = entry.result if entry is not None else None
        m = run.model if run is not None else None
        flops = ((m.flops_per_token or 0) * (run.tokens_seen or 0)) if run is not None and m is not None else 0
        lines.append(
            f"| {family.upper()} | {m.preset if m else '-'} | {_int(m.params if m else None)} | "
            f"{_int(m.non_embedding_params if m else None)} | {_int(m.flops_per_token if m else None)} | "
            f"{_int(run.steps if run else None)} | {_int(run.tokens_seen if run else None)} | "
            f"{_int(run.supervised_tokens if run else None)} | {flops:.3g} | "
            f"{_secs(entry.wall_s if entry else None)} | {entry.status if entry else 'not run'} |"
        )
    lines += ["", "Tokens seen are real (non-padding) input tokens; tokens predicted are the positions the objective "
              "scored (BERT: the masked ones, the run's data.mlm_probability of them; GPT: every next token). FLOPs "
              "count BERT's vocabulary projection at masked positions only, at the run's masking rate.", ""]
    regime = regime_lines(results)
    lines += ["## Data regime", "", *regime, ""] if regime else []
    lines += ["## Pretraining", ""]
    for family in FAMILIES:
        entry = results.pretraining.get(family)
        if entry is None or entry.status != "done" or entry.result is None:
            lines.append(f"- {family.upper()}: {entry.status if entry else 'not run'} {entry.error if entry else ''}"
                         .rstrip())
            continue
        metrics = entry.result.metrics
        shown = [f"{s.label} {metrics[s.key]:.4g}" for s in PRETRAIN_METRICS[family] if s.key in metrics]
        folder = (results.plan["pretrain"].get("from_pretrained") or {}).get(family)
        measured = "; ".join(shown) or "no validation metrics logged"
        given = f"not pretrained by this plan: the Hugging Face folder {folder}"
        lines.append(f"- {family.upper()}: {given if folder else measured}.")
        if family in results.pretraining_verdicts:
            lines.append(f"  {results.pretraining_verdicts[family]}")
        if len(entry.seeds) > 1:
            spec = PRETRAIN_METRICS[family][0]
            values = ", ".join(f"seed {s}: {r.metrics.get(spec.key, float('nan')):.4g}" for s, r in entry.seeds.items())
            lines.append(f"  {spec.label} per pretraining seed: {values}.")
    lines.append("")
    lines.append("MLM accuracy and causal perplexity measure different objectives; each family is judged against "
                 "its own trivial baseline (most frequent token; unigram perplexity), not against the other.")
    if "loss_vs_tokens.png" in names:
        lines += ["", "![loss vs tokens](loss_vs_tokens.png)"]
    for task, entry in results.tasks.items():
        lines += ["", f"## {task}", ""]
        lines += _task_section(task, entry, results.plan["pretrain"].get("from_pretrained"))
    if "downstream_scores.png" in names:
        lines += ["", "## Downstream scores", "", "![downstream scores](downstream_scores.png)"]
    if "score_vs_pretraining_tokens.png" in names:
        lines += ["", "## Score vs pretraining tokens", "", "![score vs tokens](score_vs_pretraining_tokens.png)"]
    elif results.tasks:
        lines += ["", "No score-vs-pretraining-tokens plot: no family was fine-tuned at two or more pretraining "
                  "checkpoints (pretrain.probes)."]
    attention = [f"![{f} attention](attention_{f}.png)" for f in FAMILIES if f"attention_{f}.png" in names]
    if attention:
        lines += ["", "## Attention maps (one validation example)", "", " ".join(attention)]
    walls = results.wall_s
    if walls.per_stage_run_total:
        elapsed = (_secs(walls.elapsed) if walls.elapsed is not None else  # scripts/report.py runs nothing
                   "not measured (this report was rebuilt from the run records by scripts/report.py)")
        lines += ["", "## Wall time", "", f"Elapsed (this invocation, runs side by side): {elapsed}.",
                  "", "| stage | runs' wall time, summed |", "|---|---:|"]
        lines += [f"| {stage} | {_secs(seconds)} |" for stage, seconds in walls.per_stage_run_total.items()]
    failed = [r for r in results.runs if r.status != "done"]
    if failed:
        lines += ["", "## Runs that did not finish", "", "| run | status | error |", "|---|---|---|"]
        lines += [f"| {r.run_id} | {r.status} | {_cell(r.error)} |" for r in failed]
    return "\n".join(lines) + "\n"


def _copying_note(results: ComparisonResults, family: str) -> str:
    """Where a model misses a baseline on a task that copies from its source (Task.copies_source): whether its
    pretrained model can copy from its context at all (the copying probe)."""
    entry = results.pretraining.get(family)
    value = entry.result.metrics.get(COPY_ACC_KEY) if entry is not None and entry.result is not None else None
    if value is None:
        return ""
    return (f" Its pretrained model predicts {value:.0%} of a repeated random sequence from the first copy "
            "(in-context copy accuracy, the induction-head probe of Olsson et al. 2022)"
            + (": it cannot copy from its input yet." if value < CANNOT_COPY_BELOW else "."))


def answer_lines(results: ComparisonResults) -> list[str]:
    """One row per task: the headline metric, who won (or not significant), the effect of pretraining,
    and whether each pretrained model beats the strongest trivial baseline; the classical reference beside
    them, labelled as such (no verdict or note reads it)."""
    rows = ["| task (metric) | BERT | GPT | strongest trivial baseline | classical reference (not a baseline) | "
            "verdict | pretraining effect (BERT / GPT) |", "|---|---:|---:|---:|---:|---|---|"]
    notes = []
    for task, entry in results.tasks.items():
        spec = TASK_METRICS[task][0]
        final = entry.final()
        if final is None:
            rows.append(f"| {task} ({spec.label}) | - | - | - | {_reference(spec, entry)} | no run finished | - |")
            continue
        cells = [final[f].metrics.get(spec.key) for f in FAMILIES]
        strongest = spec.strongest_baseline(entry.baselines)
        verdict = next((v.verdict for v in entry.verdicts if v.metric == spec.key), None)
        said = "-" if verdict is None else (f"{verdict.winner} better" if verdict.significant else "not significant")
        effects = " / ".join(_effect(entry.pretraining_effect.get(f)) for f in FAMILIES)
        base = "-" if strongest is None else f"{strongest[1]:.3g} ({strongest[0].split('/')[-1]})"
        rows.append(f"| {task} ({spec.label}) | {_summary(cells[0])} | {_summary(cells[1])} | {base} | "
                    f"{_reference(spec, entry)} | {said} | {effects} |")
        for family, cell in zip(FAMILIES, cells, strict=True):
            if cell is not None and strongest is not None and (cell.mean > strongest[1]) != spec.higher_is_better:
                notes.append(f"- {family.upper()} does not beat the {strongest[0].split('/')[-1]} baseline on {task}: "
                             f"at this budget that is a finding about the budget, not about the objective."
                             f"{_copying_note(results, family) if task_record(task).copies_source else ''}")
            effect = entry.pretraining_effect.get(family)
            if effect is None:
                continue
            helps, hurts = (effect.paired.ci_low > 0, effect.paired.ci_high < 0)
            if not spec.higher_is_better:
                helps, hurts = hurts, helps
            if not helps:
                said = "measurably hurts" if hurts else "shows no measurable benefit"
                notes.append(f"- {family.upper()}'s pretraining {said} on {task} (pretrained minus random-init "
                             f"{_effect(effect)}, 95% paired bootstrap interval over {effect.paired.covers}).")
    return rows + ([""] + notes if notes else [])


_POOLING_TEXT = {"mean": "the mean hidden state over the input's tokens in both families (the same readout)",
                 "native": "BERT's pooled [CLS] and GPT's last token (each family's own readout)"}


def _fine_tuning_steps(finetune: dict[str, Any]) -> str:
    """'250 steps' or '250 steps (generation 500)': the plan's tasks only."""
    special = {task: n for task, n in (finetune.get("task_steps") or {}).items()
               if n != finetune["max_steps"] and task in finetune["tasks"]}
    return f"{finetune['max_steps']} steps" + (
        " (" + ", ".join(f"{task} {n}" for task, n in special.items()) + ")" if special else "")


def _validation(finetune: dict[str, Any]) -> str:
    """How often the fine-tuning runs validated: a run shorter than val_check_interval validates at its last step
    (runs.finetune_args)."""
    steps = {task: (finetune.get("task_steps") or {}).get(task, finetune["max_steps"]) for task in finetune["tasks"]}
    every = {task: min(finetune["val_check_interval"], n) for task, n in steps.items()}
    if all(every[task] == n for task, n in steps.items()):
        return "validation at the last step"
    if len(set(every.values())) == 1:
        return f"validation every {next(iter(every.values()))} steps"
    return "validation every " + ", ".join(f"{n} steps ({task})" for task, n in every.items())


def _protocol(results: ComparisonResults) -> list[str]:
    plan = results.plan  # the plan as saved; results of older plans lack later fields (defaults below)
    p, f = plan["pretrain"], plan["finetune"]
    architecture = plan.get("architecture", "classic")
    settings = {fam: e.result.model.block_settings if (e := results.pretraining.get(fam)) and e.result else {}
                for fam in FAMILIES}
    lines = [
        "- **Architecture: as released.** The Hugging Face folders of pretrain.from_pretrained bring their own; the "
        "plan's match check does not apply to them (the block settings are side by side below)."
        if p.get("from_pretrained") else
        f"- **Architecture: {architecture}.** " + (
            "Both families use the same block settings; they differ only in the attention mask (bidirectional vs "
            "causal), the objective and the heads (Ettin's protocol, Weller et al. 2025)." if architecture == "matched"
            else "Each family keeps its classic layout, so architecture differences are confounded with the "
                 "objective."),
        (f"- **Budget:** matched by {p.get('match', 'tokens')}; same data ({p['data']}), "
         f"{'one shared' if p['shared_tokenizer'] else 'per-family'} tokenizer ({p['vocab_size']} tokens), batch "
         f"{p['batch_size']} x {p['seq_len']} positions, AdamW lr {p['lr']:g} with {p['warmup_steps']} warmup steps; "
         f"BERT {'with' if p.get('nsp', True) else 'without'} next-sentence prediction; pretraining seeds {p['seeds']}."
         if not p.get("from_pretrained") else
         "- **Pretraining:** none in this plan: both families are fine-tuned from Hugging Face folders "
         f"(BERT {p['from_pretrained']['bert']}, GPT {p['from_pretrained']['gpt']}), each with its own tokenizer, so "
         "the plan's shared tokenizer, pretraining data and budget do not apply; their pretraining is the "
         "publishers'."),
        f"- **Fine-tuning:** at most {_fine_tuning_steps(f)}, batch {f['batch_size']}"
        + (" (training batches drawn from examples of similar length)" if f.get("group_by_length") else "")
        + f", {_validation(f)}"
        + (f", stopped after {f['patience']} validations without improvement" if f.get("patience") else "")
        + "; the best validation checkpoint is tested. Learning rate: each (task, family, pretrained | random-init) "
        f"group starts from the same grid {f['lrs']}"
        + (f" and extends it one step past any edge its best rate lands on, within {f['lr_bounds']}"
           if f.get("lr_bounds") else "") + f"; seeds {f['seeds']}. Classification reads "
        + _POOLING_TEXT[f.get("classification_pooling") or "native"] + ".",  # results before the option: native
        "- **Controls:** "
        + ("none" if not f["controls"] else f"{f['controls']} random-init run(s) per task and family")
        + " (same architecture and recipe, with a learning-rate search of their own, from random weights); "
        "pretraining effect = pretrained minus random-init.",
        *_references_protocol(results),
        f"- **Runs side by side:** {plan['parallel_runs']} at a time, "
        + (f"{plan['threads_per_run']} thread(s) each" if plan.get("threads_per_run") else "threads not recorded")
        + (f", on {results.environment.usable_cores} usable CPU cores" if results.environment.usable_cores else "")
        + " (a plan's null = derived from the cores: runs = min(cores, the plan's widest stage), threads = "
        "cores // runs; pretrain.compare.planning.cores)"
        + (f"; device slots {plan['device_slots']}: each pretraining run on every device, fine-tuning and control "
           "runs one per device (pretrain.compare.running.slots)." if plan.get("device_slots") is not None else "."),
        f"- **Statistics:** mean ± 95% Student-t interval over {len(p['seeds'])} pretraining x {len(f['seeds'])} "
        "fine-tuning seeds (covers "
        + ("pretraining and fine-tuning randomness" if len(p["seeds"]) > 1 else "fine-tuning randomness only: one "
           "pretraining run per family") + "); BERT-GPT differences and pretraining effects also get a paired "
        "hierarchical bootstrap (Davison & Hinkley 1997, section 3.8; Sellam et al. 2022) that resamples "
        + ("pretraining seeds, then " if len(p["seeds"]) > 1 else "")
        + "fine-tuning seeds" + (" within each" if len(p["seeds"]) > 1 else "") + ", then test documents (the rows "
        "cut from one document resampled together, as they are not independent); each interval says what it "
        "covers. "
        + ("A difference is called significant only when both agree." if len(p["seeds"]) * len(f["seeds"]) > 1 else
           "With one run per family there is no test over seeds: a difference is called significant on the paired "
           "bootstrap alone, which covers the test set, not seeds.")
        + " Neither covers the choice of corpus, size or recipe.",
    ]
    differing = [k for k in settings["bert"] if settings["bert"].get(k) != settings["gpt"].get(k)]
    if settings["bert"] and settings["gpt"]:
        lines += ["", "| block setting | BERT | GPT |", "|---|---|---|"]
        for key in settings["bert"]:
            mark = " **(differs)**" if key in differing else ""
            lines.append(f"| {key}{mark} | {settings['bert'][key]} | {settings['gpt'].get(key)} |")
    return lines


def _references_protocol(results: ComparisonResults) -> list[str]:
    """The protocol's line on the classical references of the tasks that have one."""
    methods = [f"{task}: {_reference_of(task).method}" for task, entry in results.tasks.items() if entry.references]
    if not methods:
        return []
    return [f"- **Classical references** ({'; '.join(methods)}): fit on each task's training split with "
            "scikit-learn and scored on the same test rows with the metric code of the models and trivial baselines. "
            "They are shown beside the scores as references, not baselines a model must beat: no verdict reads them."]


def _task_section(task: str, entry: TaskResults, from_pretrained: dict[str, str] | None = None) -> list[str]:
    final = entry.final()
    if final is None:
        return ["No fine-tuning run of this task finished."]
    rows = ["| metric | BERT | GPT | BERT random-init | GPT random-init | trivial baselines | "
            "classical reference (not a baseline) |", "|---|---:|---:|---:|---:|---|---|"]
    for spec in TASK_METRICS[task]:
        cells = [_summary(final[f].metrics.get(spec.key)) for f in FAMILIES]
        cells += [_summary(c.metrics.get(spec.key) if (c := entry.controls.get(f)) else None) for f in FAMILIES]
        if all(c == "-" for c in cells):
            continue
        baselines = ", ".join(f"{k.split('/')[-1]} {entry.baselines[k]:.4g}" for k in spec.baseline_keys
                              if k in entry.baselines) or "-"
        rows.append(f"| {spec.label} | {' | '.join(cells)} | {baselines} | {_reference(spec, entry)} |")
    reference = _reference_note(task, entry)
    rows += ["", reference] if reference else []
    seen = ", ".join(f"{f.upper()} step {final[f].step}, {_int(final[f].tokens)} tokens" for f in FAMILIES)
    rows += ["", f"Fine-tuned from the final pretraining checkpoints ({seen})." if not from_pretrained else
             "Fine-tuned from the Hugging Face folders of pretrain.from_pretrained (not pretrained by this plan)."]
    if entry.lr:
        chosen = "; ".join(f"{fam.upper()} {choice.pretrained:g}" + (
            f" (random-init {choice.random_init:g})" if choice.random_init is not None else "")
            for fam, choice in entry.lr.items() if choice.pretrained is not None)
        rows.append(f"Learning rate chosen on validation: {chosen}.")
    search = tuning_lines(entry)
    rows += ["", *search] if search else []
    spread = spread_lines(entry)
    rows += ["", *spread] if spread else []
    rows.append("")
    no_verdict = "- No verdict: no metric was measured for both families."
    rows += [f"- {v.verdict.text}" for v in entry.verdicts] or [no_verdict]
    for family, effect in entry.pretraining_effect.items():
        rows.append(f"- Pretraining effect for {family.upper()} ({effect.metric}): {_effect(effect)} "
                    f"(pretrained minus random-init, 95% paired bootstrap interval over {effect.paired.scope}, "
                    f"{effect.paired.p_text}).")
    if entry.failed:
        rows.append(f"- Failed or skipped runs (left out of the statistics): {', '.join(entry.failed)}.")
    return rows


def _reference(spec: MetricSpec, entry: TaskResults) -> str:
    """The classical reference's cell: its name and value, or '-' (none for this metric, or not computed)."""
    key = spec.reference_key
    return f"{key.split('/')[-1]} {entry.references[key]:.4g}" if key and key in entry.references else "-"


def _reference_note(task: str, entry: TaskResults) -> str:
    """One sentence under the task's table: the classical reference on the headline metric, how far each
    family is from it, and what that gap means; '' when the task has no reference."""
    spec, final = TASK_METRICS[task][0], entry.final()
    value = entry.references.get(spec.reference_key) if spec.reference_key else None
    if value is None or final is None:
        return ""
    means = {f: s.mean for f in FAMILIES if (s := final[f].metrics.get(spec.key)) is not None}
    gaps = ", ".join(f"{f.upper()} {mean - value:+.3g}" for f, mean in means.items())
    above = [f.upper() for f, mean in means.items() if (mean >= value if spec.higher_is_better else mean <= value)]
    meaning = (f"{' and '.join(above)} {'reaches' if len(above) == 1 else 'reach'} it: at this budget a pretrained "
               "model scores at least what a classical method fit on the training split alone scores"
               if above else _reference_of(task).gap_meaning)
    return (f"Classical reference ({_reference_of(task).method}, fit on the training split and scored on the "
            "same test rows; "
            f"a reference, not a baseline a model must beat): {spec.label} {value:.4g}, models minus reference "
            f"{gaps or '-'}: {meaning}.")


def _reference_of(task: str) -> Reference:
    """The classical reference of a task whose results hold reference scores."""
    reference = task_record(task).reference
    if reference is None:
        raise ValueError(f"task {task!r} has reference scores but its record names no classical reference")
    return reference


def _effect(effect: PretrainingEffect | None) -> str:
    if effect is None:
        return "-"
    d = effect.paired
    return f"{d.difference:+.3g} [{d.ci_low:+.3g}, {d.ci_high:+.3g}]"


def _summary(s: Summary | None) -> str:
    if s is None:
        return "-"
    if s.n < 2:
        return f"{s.mean:.4g} (n=1)"
    return f"{s.mean:.4g} ± {s.half_width:.2g} (n={s.n})"


def _int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}"


def _secs(v: Any) -> str:
    return "-" if v is None else f"{float(v):.0f} s"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
