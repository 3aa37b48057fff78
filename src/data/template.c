/* Prompt templates: the built-in one, loading from JSON, checking and rendering. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct template_field {
    const char *name;
    size_t offset;
    const char *builtin;
    const char *const *placeholders; /* NULL-terminated */
} template_field;

static const char *const NO_PLACEHOLDERS[] = {NULL};
static const char *const ITEM_PLACEHOLDERS[] = {"input", "output", "time", NULL};
static const char *const PROMPT_PLACEHOLDERS[] = {"history", "input", NULL};
enum { PROMPT_HISTORY, PROMPT_INPUT };          /* indices into PROMPT_PLACEHOLDERS */
enum { MAX_PLACEHOLDERS = 3 };                 /* in any one field */

static const template_field FIELDS[] = {
    {"system", offsetof(vkq_template, system), "", NO_PLACEHOLDERS},
    {"history_item", offsetof(vkq_template, history_item),
     "Input: {input}\nOutput: {output}\n\n", ITEM_PLACEHOLDERS},
    {"no_history", offsetof(vkq_template, no_history), "None\n\n", NO_PLACEHOLDERS},
    {"prompt", offsetof(vkq_template, prompt),
     "Previous responses by this user:\n{history}Input: {input}\nOutput:", PROMPT_PLACEHOLDERS},
};
enum { N_FIELDS = sizeof FIELDS / sizeof FIELDS[0], PROMPT_FIELD = 3 /* FIELDS index */ };

static char **field_text(vkq_template *t, const template_field *f)
{
    return (char **)((char *)t + f->offset);
}

static const char *field_text_const(const vkq_template *t, const template_field *f)
{
    return *(char *const *)((const char *)t + f->offset);
}

vkq_status vkq_template_default(vkq_template *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < N_FIELDS; i++) {
        vkq_status status = vkq_copy_string(FIELDS[i].builtin, field_text(out, &FIELDS[i]));
        if (status != VKQ_OK) {
            vkq_template_free(out);
            return status;
        }
    }
    return VKQ_OK;
}

void vkq_template_free(vkq_template *t)
{
    for (int i = 0; i < N_FIELDS; i++)
        free(*field_text(t, &FIELDS[i]));
    memset(t, 0, sizeof *t);
}

static int placeholder_index(const char *const *names, const vkq_format_part *part)
{
    for (int i = 0; names[i]; i++)
        if (vkq_format_part_is(part, names[i]))
            return i;
    return -1;
}

static vkq_status fail_unknown_placeholder(const char *source, const template_field *f,
                                           const vkq_format_part *part)
{
    char allowed[64] = "none";
    for (int i = 0; f->placeholders[i]; i++) {
        size_t used = i == 0 ? 0 : strlen(allowed);
        snprintf(allowed + used, sizeof allowed - used, "%s{%s}", i == 0 ? "" : ", ",
                 f->placeholders[i]);
    }
    char name[2 * sizeof(vkq_quoted)];
    snprintf(name, sizeof name, "%.*s", (int)part->length, part->text);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: unknown placeholder {%s} in \"%s\" (allowed: %s)",
                    source, VKQ_QUOTE(name), f->name, allowed);
}

/* Counts the placeholders of one field, by their index in f->placeholders. */
static vkq_status check_field(const char *source, const template_field *f, const char *format,
                              unsigned counts[MAX_PLACEHOLDERS])
{
    vkq_format_part part;
    int next;
    while ((next = vkq_format_next(&format, &part)) == VKQ_FORMAT_PART) {
        if (!part.is_placeholder)
            continue;
        int index = placeholder_index(f->placeholders, &part);
        if (index < 0)
            return fail_unknown_placeholder(source, f, &part);
        counts[index]++;
    }
    if (next == VKQ_FORMAT_UNTERMINATED)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: unterminated placeholder in \"%s\" (a literal { is written {{)",
                        source, f->name);
    return VKQ_OK;
}

vkq_status vkq_template_check(const vkq_template *t, const char *source)
{
    unsigned prompt_counts[MAX_PLACEHOLDERS] = {0};
    for (int i = 0; i < N_FIELDS; i++) {
        const char *text = field_text_const(t, &FIELDS[i]);
        if (!text)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" is NULL", source, FIELDS[i].name);
        unsigned counts[MAX_PLACEHOLDERS] = {0};
        VKQ_TRY(check_field(source, &FIELDS[i], text, i == PROMPT_FIELD ? prompt_counts : counts));
    }
    if (prompt_counts[PROMPT_INPUT] == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"prompt\" has no {input}", source);
    if (prompt_counts[PROMPT_HISTORY] == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"prompt\" has no {history}", source);
    if (prompt_counts[PROMPT_HISTORY] > 1)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"prompt\" has {history} %u times; once is allowed",
                        source, prompt_counts[PROMPT_HISTORY]);
    return VKQ_OK;
}

static const template_field *find_field(const char *name)
{
    for (int i = 0; i < N_FIELDS; i++)
        if (strcmp(FIELDS[i].name, name) == 0)
            return &FIELDS[i];
    return NULL;
}

/* Names are unique: vkq_parse_json refuses an object with two members of one name. */
static vkq_status set_field(const char *path, const cJSON *value, vkq_template *t)
{
    const template_field *f = find_field(value->string);
    if (!f)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: unknown field \"%s\" (known: system, history_item, no_history, "
                        "prompt)",
                        path, VKQ_QUOTE(value->string));
    if (!cJSON_IsString(value))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"%s\" must be a string", path, f->name);
    vkq_field_ctx c = {path, ""};
    VKQ_TRY(vkq_check_utf8(&c, f->name, value->valuestring));
    char *copy = NULL;
    VKQ_TRY(vkq_copy_string(value->valuestring, &copy));
    free(*field_text(t, f));
    *field_text(t, f) = copy;
    return VKQ_OK;
}

static vkq_status set_fields(const char *path, const cJSON *root, vkq_template *t)
{
    if (!cJSON_IsObject(root))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a template must be a JSON object", path);
    const cJSON *value;
    cJSON_ArrayForEach(value, root)
    {
        VKQ_TRY(set_field(path, value, t));
    }
    return VKQ_OK;
}

static vkq_status load_fields(const char *path, vkq_template *t)
{
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    cJSON *root = NULL;
    vkq_status status = vkq_parse_json(path, 1, text, length, &root);
    free(text);
    if (status == VKQ_OK)
        status = set_fields(path, root, t);
    cJSON_Delete(root);
    return status;
}

vkq_status vkq_template_load(const char *path, vkq_template *out)
{
    VKQ_TRY(vkq_template_default(out));
    vkq_status status = load_fields(path, out);
    if (status == VKQ_OK)
        status = vkq_template_check(out, path);
    if (status != VKQ_OK)
        vkq_template_free(out);
    return status;
}

/* Appends format with each placeholder replaced by the value of that name (none for a name
 * not among names, which a checked template never holds). */
static vkq_status render_format(const char *format, const char *const *names,
                                const char *const *values, vkq_strbuf *out)
{
    vkq_format_part part;
    while (vkq_format_next(&format, &part) == VKQ_FORMAT_PART) {
        if (!part.is_placeholder) {
            VKQ_TRY(vkq_strbuf_append(out, part.text, part.length));
            continue;
        }
        int index = placeholder_index(names, &part);
        if (index >= 0)
            VKQ_TRY(vkq_strbuf_append_str(out, values[index]));
    }
    return VKQ_OK;
}

static vkq_status render_history(const vkq_template *t, const vkq_history_item *history,
                                 uint32_t n_history, vkq_strbuf *out)
{
    if (n_history == 0)
        return render_format(t->no_history, NO_PLACEHOLDERS, NULL, out);
    for (uint32_t i = 0; i < n_history; i++) {
        const vkq_history_item *item = &history[i];
        const char *values[] = {item->input, item->output, item->time ? item->time : ""};
        VKQ_TRY(render_format(t->history_item, ITEM_PLACEHOLDERS, values, out));
    }
    return VKQ_OK;
}

vkq_status vkq_template_render_system(const vkq_template *t, vkq_strbuf *out)
{
    return render_format(t->system, NO_PLACEHOLDERS, NULL, out);
}

vkq_status vkq_template_render_user(const vkq_template *t, const char *input,
                                    const vkq_history_item *history, uint32_t n_history,
                                    vkq_strbuf *out)
{
    vkq_strbuf block = {0};
    vkq_status status = render_history(t, history, n_history, &block);
    if (status == VKQ_OK) {
        const char *values[] = {block.data ? block.data : "", input};
        status = render_format(t->prompt, PROMPT_PLACEHOLDERS, values, out);
    }
    vkq_strbuf_free(&block);
    return status;
}

vkq_status vkq_template_use_chat(vkq_template *t, const vkq_tokenizer *tok, const char *choice)
{
    int is_auto = 0;
    VKQ_TRY(vkq_chat_format_parse(choice, &t->chat, &is_auto));
    return is_auto ? vkq_tokenizer_chat_format(tok, &t->chat) : VKQ_OK;
}
