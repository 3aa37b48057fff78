/* The native format: one JSON sample a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

enum { WHERE_SIZE = 1024 };

static vkq_status history_item_from_json(const char *where, uint32_t index, const cJSON *value,
                                         vkq_history_item *item)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "history[%u].", index);
    vkq_field_ctx c = {where, prefix};
    if (!cJSON_IsObject(value))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"history[%u]\" must be an object", where,
                        index);
    VKQ_TRY(vkq_get_string(&c, value, "input", 1, &item->input));
    VKQ_TRY(vkq_get_string(&c, value, "output", 1, &item->output));
    return vkq_get_time(&c, value, "time", &item->time);
}

static vkq_status history_from_json(const char *where, const cJSON *history, vkq_sample *s)
{
    if (!history || cJSON_IsNull(history))
        return VKQ_OK;
    if (!cJSON_IsArray(history))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"history\" must be an array", where);
    uint32_t n = (uint32_t)cJSON_GetArraySize(history);
    s->history = calloc(n ? n : 1, sizeof *s->history);
    if (!s->history)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u history items", where, n);
    s->n_history = n; /* the items start zeroed, so a partly read history frees cleanly */
    uint32_t index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, history)
    {
        VKQ_TRY(history_item_from_json(where, index, item, &s->history[index]));
        index++;
    }
    return VKQ_OK;
}

static vkq_status sample_from_json(const char *where, const cJSON *root, vkq_sample *s)
{
    if (!cJSON_IsObject(root))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a sample must be a JSON object", where);
    vkq_field_ctx c = {where, ""};
    VKQ_TRY(vkq_get_string(&c, root, "user", 0, &s->user));
    if (!s->user)
        VKQ_TRY(vkq_copy_string("", &s->user));
    VKQ_TRY(vkq_get_string(&c, root, "input", 1, &s->input));
    VKQ_TRY(vkq_get_string(&c, root, "target", 1, &s->target));
    if (s->target[0] == '\0')
        return vkq_fail(VKQ_ERR_FORMAT, "%s: empty target", where);
    return history_from_json(where, cJSON_GetObjectItemCaseSensitive(root, "history"), s);
}

static vkq_status sample_from_line(const char *path, uint32_t number, const char *line,
                                   size_t length, vkq_sample *s)
{
    char where[WHERE_SIZE];
    snprintf(where, sizeof where, "%s:%u", path, number);
    cJSON *root = NULL;
    VKQ_TRY(vkq_parse_json(path, number, line, length, &root));
    vkq_status status = sample_from_json(where, root, s);
    cJSON_Delete(root);
    s->line = number;
    return status;
}

static vkq_status load_lines(const char *path, char *text, size_t length, int skip_bad,
                             vkq_dataset *d)
{
    char *at = text, *end = text + length;
    size_t line_length;
    uint32_t number = 0;
    for (char *line; (line = vkq_next_line(&at, end, &line_length)) != NULL;) {
        number++;
        if (vkq_is_blank(line, line_length))
            continue;
        vkq_sample s = {0};
        vkq_status status = sample_from_line(path, number, line, line_length, &s);
        VKQ_TRY(vkq_dataset_add(d, status, &s, skip_bad));
    }
    return VKQ_OK;
}

vkq_status vkq_dataset_load_jsonl(const char *path, int skip_bad, vkq_dataset *out)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_status status = load_lines(path, text, length, skip_bad, out);
    free(text);
    if (status == VKQ_OK)
        status = vkq_dataset_finish(out, path);
    if (status != VKQ_OK)
        vkq_dataset_free(out);
    return status;
}
