"""``DATASHEET.md`` of a stimulus set, written from the data (Gebru et al.'s datasheets, in brief)."""

from __future__ import annotations

from typing import Any

from qdemo.stimuli.norms import A_NAMES, REGION_EDGES, V_NAMES


def _models(manifest: dict[str, Any]) -> list[str]:
    out = []
    for role in ("searcher", "critic"):
        m = (manifest.get("models") or {}).get(role)
        if not m:
            out.append(f"- {role}: none")
            continue
        line = f"- {role}: `{m.get('name')}` (spec `{m.get('spec')}`, sha256 `{str(m.get('sha256', ''))[:16]}…`)"
        adapted = m.get("adapted")
        if adapted:
            line += (f"; adapted from `{adapted.get('parent', {}).get('name')}` on "
                     f"{adapted.get('ratings', {}).get('n_stimuli')} rated images")
        out.append(line)
    for h in manifest.get("searcher_history") or []:
        out.append(f"- earlier searcher: `{h.get('name')}` (sha256 `{str(h.get('sha256', ''))[:16]}…`), "
                   f"until iteration {h.get('until_iteration')}")
    return out


def _which_predictions(facts: dict[str, Any]) -> str:
    scored = facts.get("scored") or []
    if facts["rated"]:
        critic = ((facts.get("study") or {}).get("critic")) or "the study's critic"
        return ("Predictions are of the images as rated: `critic_*` by the critic of `qdemo export-study` "
                f"(`{critic}`), `searcher_*` " + ("by the run's current searcher." if "searcher" in scored else
                                                   "empty (the run's manifest names no loadable searcher)."))
    if scored:
        return "Predictions are of the exported (equalised) images, by the run's models."
    return "Predictions are the run's own (archive.csv), of the elites as rendered."


def _made(facts: dict[str, Any]) -> list[str]:
    man = facts["manifest"]
    r = man.get("renderer") or {}
    g = man.get("grid") or {}
    eq = facts.get("equalised")
    lines = ["## How the images were made", "",
             f"Renders of `{r.get('name', '?')}` ({r.get('resolution', '?')} px) found by the quality-diversity "
             f"search of qdemo {man.get('qdemo_version', '?')} (`{man.get('emitter', '?')}`, seed "
             f"{man.get('seed', '?')}, {man.get('iterations', '?')} iterations, "
             f"{(man.get('metrics') or {}).get('evaluations', '?')} images scored) over a {g.get('name', '?')} grid "
             f"of {g.get('cells', '?')} cells on {', '.join(g.get('dims', []))}; each image is the best found for "
             f"its cell (the *intended* VAD in norms.csv is the cell centre). Run folder: `{facts['run']}`.", "",
             "Emotion models (predictions in norms.csv, canonical scale [-1, 1]):", "", *_models(man), "",
             _which_predictions(facts), ""]
    if eq:
        lines += [f"Equalised with SHINE (`qdemo normalise shine`, mode `{eq.get('mode')}`, steps "
                  f"{eq.get('steps')}): luminance / histogram / spectrum matched across the set "
                  f"(target luminance mean {eq.get('targets', {}).get('lum_mean', float('nan')):.1f}, "
                  f"sd {eq.get('targets', {}).get('lum_sd', float('nan')):.1f} on 0-255). "
                  + ("The ratings are of these equalised images." if facts["rated"] else
                     "The model predictions are of the equalised images."), ""]
    return lines


def _ratings(facts: dict[str, Any]) -> list[str]:
    if not facts["rated"]:
        return ["## Norms", "", "**Model norms only**: nobody has rated these images yet; the `*_mean` / `*_sd` "
                "columns are empty, `n` is 0 and `norms` says `model only`. Rate them with `qdemo export-study` "
                "and `qdemo rate`, then export again with `--db` (docs/study.md).", ""]
    s = facts["study"]
    q = s["quality"]
    lines = ["## Rating protocol", "",
             "Self-Assessment Manikin (Bradley & Lang 1994), 9-point scales of pleasure (valence), arousal and "
             "dominance, in `qdemo rate` (a local web page; keyboard or mouse). Each participant saw the study's "
             f"stimuli in a blinded random order seeded by (study seed {s['seed']}, participant id); images were "
             f"{s['size']} px PNGs named only by a blinded id. The study held {s['n_study']} stimuli, "
             f"{s['matched']} of them this run's elites (the images here)"
             + (f"; {s['other']} of other sources (generator samples, photos) are not in this set." if s["other"]
                else "."), "",
             "## Raters", "",
             f"{s['n_raters']} raters gave {s['n_ratings']} ratings of these images (per image: "
             f"{s['n_min']}-{s['n_max']}, median {s['n_median']}). Rater quality (`qdemo validate`): leave-one-out "
             f"r of each rater with the others' mean; {q['n_flagged']} rater(s) flagged below {q['threshold']:g} "
             f"(mean over {', '.join(q['dims'])}), "
             + (f"**{len(s['excluded'])} left out** (`--exclude-flagged`)." if s["excluded"] else
                "none left out.")
             + " No demographic data are collected by qdemo.", "",
             "Split-half reliability of the mean ratings (random halves of the raters, Spearman-Brown corrected; "
             f"mean over {s['reliability'].get('valence', {}).get('n_splits', 0)} splits):", "",
             "| dimension | r (halves) | Spearman-Brown | 2.5-97.5 % over splits |", "|---|---|---|---|"]
    for d, e in s["reliability"].items():
        rng = "–" if not e["range"] else f"{e['range'][0]:.2f}-{e['range'][1]:.2f}"
        f2 = (lambda x: "–" if x is None else f"{x:.2f}")
        lines.append(f"| {d} | {f2(e['r_half'])} | {f2(e['spearman_brown'])} | {rng} |")
    return lines + [""]


def _regions(facts: dict[str, Any]) -> list[str]:
    rc = facts["regions"]
    key = "human" if facts["rated"] else "model"
    lines = ["## Valence x arousal regions", "",
             f"Images per region by the {'human means' if key == 'human' else 'critic (model norms)'}; "
             f"thirds of the canonical scale, cut at {REGION_EDGES[0]:+.2f} and {REGION_EDGES[1]:+.2f}.", "",
             "| arousal \\ valence | " + " | ".join(V_NAMES) + " |", "|---|---|---|---|"]
    for a in A_NAMES[::-1]:
        lines.append(f"| {a} | " + " | ".join(str(rc[key].get(f"{v}-{a}", 0)) for v in V_NAMES) + " |")
    return lines + [""]


def datasheet(facts: dict[str, Any]) -> str:
    """The Markdown text (``facts``: what :func:`qdemo.stimuli.export.export_stimuli` gathered)."""
    lines = [f"# Datasheet: {facts['name']}", "",
             f"{facts['n']} images (`images/`, PNG), one row each in `norms.csv` "
             f"({'human norms' if facts['rated'] else 'model norms only'}), a contact sheet "
             "(`contact_sheet.png`) and `export.json` (the facts below, machine-readable). Written by "
             f"`qdemo stimuli export` on {facts['created']}.", "",
             "![contact sheet](contact_sheet.png)", ""]
    lines += _made(facts) + _ratings(facts) + _regions(facts)
    lines += ["## Columns of norms.csv", "",
              "`id`, `file`; `norms` (`human` or `model only`); `n` raters; `<dim>_mean`, `<dim>_sd` on SAM 1-9 "
              "and `<dim>_mean_canonical`, `<dim>_sd_canonical` on [-1, 1] ((x - 5) / 4); `cell_index`, `cell` "
              "(coordinates on the run's grid) and `intended_<dim>` (the cell centre); `searcher_<dim>`, "
              "`critic_<dim>` (model predictions, canonical); `luminance` (mean Rec. 709 luma, 0-1), "
              "`contrast` (RMS), `colourfulness` (Hasler & Suesstrunk), `spectral_slope` (log amplitude vs log "
              "frequency; natural images about -1 to -1.5), `edge_density` (share of Sobel edges); "
              "`stimulus_id` (the study's blinded id) and `objective` (the search's score, 0-100).", "",
              "Dominance: rated by people in `qdemo rate`, but the models' dominance was learned from word norms "
              "(a proxy), not from image ratings.", "",
              "## Licence", "", f"Images: {facts['licence']}. {facts['licence_note']}", ""]
    return "\n".join(lines)


__all__ = ["datasheet"]
