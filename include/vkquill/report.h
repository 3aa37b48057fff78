/* The demo's report: one self-contained HTML page (inline CSS and inline SVG; no scripts, fonts
 * or network references) from the results JSON the demo runner writes:
 *
 *   {"vkquill_version": "0.1.0", "date": "...", "machine": "...", "device": "...",
 *    "summary": "free text",
 *    "config": {"users": 24, ...},            values are strings, numbers or booleans
 *    "methods": ["sft", "mce", "dce", "nextquill"],   a non-empty subset, no repeats
 *    "seeds": [1, 2],                                  one or more numbers, no repeats
 *    "runs": [{"method": "sft", "seed": 1, "train_seconds": 41.2,
 *              "losses": [{"step": 1, "loss": 5.1, "loss_n": 5.1, "loss_p": 0.0}, ...],
 *              "dce_detection": [{"step": 40, "precision": 0.52, "recall": 0.31}, ...],
 *              "metrics": {"style_accuracy": 0.42, "rouge1": 0.51, "rougeL": 0.49,
 *                          "bleu": 12.3}}, ...]}
 *
 * runs holds exactly one run for every (method, seed) pair; steps increase within a series and
 * are the same for every seed of one method (either series may be empty). Numbers are finite.
 *
 * The page: title, summary, date, machine and device, the configuration; the ablation table
 * (methods in the order sft, mce, dce, nextquill; each cell "mean ± spread" over the seeds,
 * spread = half the range, the best mean per metric in bold, metrics compared as shown, to 3
 * decimals, BLEU to 2); a verdict on whether NextQuill has the best mean style accuracy and
 * ROUGE-L; SVG charts of the mean training loss, the metrics with spread whiskers and the DCE
 * detector's mean precision and recall over the steps; a note on reading it and a footer with the
 * vkquill version. Methods differ in dash pattern, fill pattern and lightness as well as hue. */
#ifndef VKQUILL_REPORT_H
#define VKQUILL_REPORT_H

#include "vkquill/status.h"

/* Validates results_json_path and writes html_path atomically (whole or not at all: nothing is
 * written when the results are unusable). Errors, each a one-line vkq_last_error():
 *   VKQ_ERR_IO      "FILE: cannot open: REASON", "FILE: cannot read", or a write error on html;
 *   VKQ_ERR_FORMAT  "FILE:LINE:COL: malformed JSON", "FILE: the results must be a JSON object",
 *                   "FILE: \"FIELD\" is missing", "FILE: \"FIELD\" must be KIND" (a string, a
 *                   number, an object, an array, a non-empty array, a string, number or boolean),
 *                   "FILE: \"FIELD\" is not a method (sft, mce, dce, nextquill)",
 *                   "FILE: \"FIELD\" repeats VALUE" (methods, seeds),
 *                   "FILE: \"FIELD\" is VALUE, not one of \"methods\"" (or \"seeds\"),
 *                   "FILE: \"runs[I]\" repeats method M seed S (runs[J])",
 *                   "FILE: \"runs\" has no run for method M seed S",
 *                   "FILE: \"FIELD.step\" must be greater than the step before it",
 *                   "FILE: \"runs[I].SERIES\" steps differ from runs[J] (same method)";
 *   VKQ_ERR_OUT_OF_MEMORY, and VKQ_ERR_INVALID_ARGUMENT for a NULL path.
 * FIELD is a path such as runs[3].metrics.bleu or runs[0].losses[12].step. */
vkq_status vkq_report_write(const char *results_json_path, const char *html_path);

#endif
