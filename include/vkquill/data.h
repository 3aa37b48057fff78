/* Personalization data: samples of (user, input, target, history), read from the native JSONL
 * format, the LaMP / LongLaMP layout or plain text, and turned into token sequences with and
 * without the user's history. Knows nothing of Vulkan or of training.
 *
 * Every loader fails with one line that names the file and where in it the problem is:
 * "PATH:LINE:COL: malformed JSON" (COL counts bytes from 1), "PATH:LINE: missing field
 * \"target\"", "PATH:LINE: field \"history\" must be an array", "PATH:LINE: empty target",
 * "PATH:LINE: invalid UTF-8 in \"history[1].output\"" (fields inside arrays are named with
 * 0-based indices). Content errors are VKQ_ERR_FORMAT, unreadable files VKQ_ERR_IO. */
#ifndef VKQUILL_DATA_H
#define VKQUILL_DATA_H

#include <stdint.h>

#include "vkquill/status.h"
#include "vkquill/tokenizer.h"

typedef struct vkq_history_item {
    char *input;
    char *output;
    char *time; /* optional; NULL when absent; a number was read as its digits */
} vkq_history_item;

/* Every string is valid UTF-8 and never NULL (an absent user is ""), except history times. */
typedef struct vkq_sample {
    char *user;
    char *input;
    char *target;              /* never empty */
    vkq_history_item *history; /* newest first */
    uint32_t n_history;
    uint32_t line;             /* 1-based line (JSONL, text) or question index + 1 (LaMP) */
} vkq_sample;

typedef struct vkq_dataset {
    vkq_sample *samples;
    uint32_t count;
    uint32_t skipped;          /* bad samples passed over with skip_bad */
} vkq_dataset;

/* Native format, one JSON object a line:
 * {"user": "...", "input": "...", "target": "...",
 *  "history": [{"input": "...", "output": "...", "time": optional}, ...]}
 * "input" and "target" are required, "user" and "history" optional (null counts as absent,
 * as for "time"); the history is taken as given, which must be newest first. A "time" is a
 * string, or a whole number of seconds or milliseconds since 1970 (0 to 2^53) kept as its
 * digits; any other value is an error naming the field. Other fields are
 * ignored. Errors name the file, line (and column for malformed JSON) and what is wrong:
 * malformed JSON, a line that is not an object, a missing or non-string field, an empty
 * target, invalid UTF-8, a NUL byte. With skip_bad, bad lines are counted in skipped instead
 * (an empty file, or one with no good sample, is still an error). Blank lines are ignored, as
 * are a UTF-8 byte-order mark and CRs before LFs. */
vkq_status vkq_dataset_load_jsonl(const char *path, int skip_bad, vkq_dataset *out);

/* LaMP / LongLaMP: questions (a JSON array of {"id", "input", "profile": [...]}) and outputs
 * ({"task", "golds": [{"id", "output"}]}), joined by id (a string or a number); the user is
 * the question's id. Profile items become history items through the task's table entry: e.g.
 * LaMP-4 {"text","title"} gives input = text, output = title; LaMP-7 {"text"} gives an empty
 * input and output = text; LongLaMP-2 {"abstract","title"} gives input = title, output =
 * abstract (vkq_lamp_task_names lists the known tasks; "LaMP_4" and "LongLaMP_2", with "_",
 * name them too, and LongLaMP's Hugging Face configurations such as "product_review_user" or
 * "product_review_temporal" name their task). Profile items are ordered newest first by their
 * "date" (or else "time") field when every item has one of the same kind (text compared as
 * text, numbers as numbers), and kept as given otherwise; that field becomes the history
 * item's time, checked as the native format's "time". With skip_bad, a question that has
 * no gold output or a bad field is skipped and counted; a malformed file, a bad outputs file
 * or an unknown task always fails. */
vkq_status vkq_dataset_load_lamp(const char *questions_path, const char *outputs_path,
                                 int skip_bad, vkq_dataset *out);
const char *const *vkq_lamp_task_names(void); /* NULL-terminated */

/* Plain text for continued pre-training: each paragraph (lines between blank lines, joined
 * with "\n") becomes a sample with an empty input, no history and the paragraph as target.
 * Invalid UTF-8, a NUL byte or a file with no paragraph are errors. */
vkq_status vkq_dataset_load_text(const char *path, vkq_dataset *out);

/* Writes d in the native format, atomically (path appears whole or not at all): one line a
 * sample with "user", "input", "target" and "history" (items with "input", "output" and
 * "time" when present), non-ASCII text kept as UTF-8, so vkq_dataset_load_jsonl reads the
 * same samples back (their line numbers become the file's). An empty dataset, or a sample
 * with a NULL or invalid UTF-8 string or an empty target, is VKQ_ERR_INVALID_ARGUMENT. */
vkq_status vkq_dataset_write_jsonl(const vkq_dataset *d, const char *path);

void vkq_dataset_free(vkq_dataset *d);

/* How a prompt is built: system, then prompt with {history} replaced by the history block
 * (history_item rendered for each item used, newest first) or, when no item is used, by
 * no_history, and {input} by the sample's input. Placeholders: {input}, {output}, {time}
 * (empty when the item has none) in history_item; {history} (exactly once) and {input} (at
 * least once) in prompt; none in system and no_history. "{{" is a literal "{".
 *
 * A prompt should end without a space (e.g. "Output:"): the target is encoded on its own,
 * and the tokenizer's dummy prefix puts one space before it ("Output: Great read."), which is
 * also what a model generating after the prompt produces first. */
typedef struct vkq_template {
    vkq_chat_format chat; /* VKQ_CHAT_NONE: system + prompt as plain text */
    char *system;        /* text before everything, may be "" */
    char *history_item;  /* one history item, e.g. "Input: {input}\nOutput: {output}\n\n" */
    char *no_history;    /* what replaces the whole history block without history */
    char *prompt;        /* e.g. "History:\n{history}Input: {input}\nOutput:" */
} vkq_template;

/* The built-in template:
 *   system       ""
 *   history_item "Input: {input}\nOutput: {output}\n\n"
 *   no_history   "None\n\n"
 *   prompt       "Previous responses by this user:\n{history}Input: {input}\nOutput:"
 * so that a prompt with one history item reads
 *   Previous responses by this user:
 *   Input: <the item's input>
 *   Output: <the item's output>
 *
 *   Input: <the sample's input>
 *   Output:
 * vkq_template_load reads a JSON object with the same field names (missing fields keep the
 * built-in text; unknown or duplicate fields, non-string values, invalid UTF-8, unknown
 * placeholders and a prompt without {input} or {history} are errors naming the file and the
 * field). */
vkq_status vkq_template_default(vkq_template *out);
vkq_status vkq_template_load(const char *path, vkq_template *out);
/* Chat models: choice "auto" takes the tokenizer's chat template (none for tok.bin), or names
 * a format (vkq_chat_format_parse). With a chat format, a prompt is that format's rendering of
 * the system text and of the prompt field (history block included) as the user turn, and
 * the target ends with the format's end of turn instead of EOS. */
vkq_status vkq_template_use_chat(vkq_template *t, const vkq_tokenizer *tok, const char *choice);
void vkq_template_free(vkq_template *t);

/* A zero field means: history_k 8, no prompt limit, no target cut, no context limit. */
typedef struct vkq_prompt_limits {
    uint32_t history_k;         /* most recent items to use (default 8) */
    uint32_t max_prompt_tokens; /* BOS + prompt; history items are dropped from the oldest
                                   until it fits */
    uint32_t max_target_tokens; /* the target is cut to this, then EOS follows */
    uint32_t max_sequence_tokens; /* the model's context length: BOS + prompt + response;
                                     history items are dropped from the oldest until the
                                     with-history sequence fits */
} vkq_prompt_limits;

/* One sample as two token sequences that differ only in the history block:
 *   with    = BOS + prompt(with history)    + target + EOS
 *   without = BOS + prompt(no_history text) + target + EOS
 * (with a chat format: chat prompt + target + end of turn, the BOS inside the chat prompt)
 * The response starts at with_prompt / without_prompt (the index of the first target token);
 * both responses are the same n_response = n_target + 1 tokens (target then EOS), because the
 * target is encoded apart from the prompt. Each prompt is encoded as one text, so tokens
 * outside the history block are the same in both when the tokenizer merges nothing across
 * the block's edges; llama2.c vocabularies never merge across a newline, and the built-in
 * template puts newlines there. When no history item is used (the sample has none, or none
 * fits), with and without are the same sequence. */
typedef struct vkq_pair {
    int32_t *with_history;
    uint32_t n_with, with_prompt;
    int32_t *without_history;
    uint32_t n_without, without_prompt;
    uint32_t n_response;
    uint32_t history_used; /* items that fitted */
} vkq_pair;

/* Fails (VKQ_ERR_FORMAT) when the prompt cannot fit even without history ("sample at line N:
 * the prompt needs X tokens without history, more than --max-prompt-tokens Y"), when the
 * sequence without history exceeds the context ("sample at line N: X prompt tokens without
 * history + Y response tokens = Z, more than the model's context length C") and for a
 * template with bad placeholders ("template: ..."). */
vkq_status vkq_pair_build(const vkq_tokenizer *tok, const vkq_template *t,
                          const vkq_prompt_limits *limits, const vkq_sample *s, vkq_pair *out);
void vkq_pair_free(vkq_pair *p);

#endif
