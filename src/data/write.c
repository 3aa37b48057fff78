/* Writing a dataset in the native format: one JSON sample a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "data/data_internal.h"

/* Whether text is a string the loader takes back: present, valid UTF-8 (so no NUL inside). */
static int good_string(const char *text)
{
    return text && vkq_utf8_valid(text, strlen(text));
}

static vkq_status check_sample(uint32_t index, const vkq_sample *s)
{
    int good = good_string(s->user) && good_string(s->input) && good_string(s->target) &&
               s->target[0] != '\0' && (s->history || s->n_history == 0);
    for (uint32_t i = 0; good && i < s->n_history; i++) {
        const vkq_history_item *h = &s->history[i];
        good = good_string(h->input) && good_string(h->output) &&
               (!h->time || good_string(h->time));
    }
    if (!good)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "sample %u: a missing or invalid UTF-8 string, or an empty target",
                        index + 1);
    return VKQ_OK;
}

static int add_string(cJSON *o, const char *key, const char *value)
{
    return cJSON_AddStringToObject(o, key, value) != NULL;
}

static int add_history_item(cJSON *history, const vkq_history_item *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(history, o)) {
        cJSON_Delete(o);
        return 0;
    }
    return add_string(o, "input", h->input) && add_string(o, "output", h->output) &&
           (!h->time || add_string(o, "time", h->time));
}

/* The sample as a JSON object; NULL when out of memory. */
static cJSON *sample_json(const vkq_sample *s)
{
    cJSON *o = cJSON_CreateObject();
    int good = o && add_string(o, "user", s->user) && add_string(o, "input", s->input) &&
               add_string(o, "target", s->target);
    cJSON *history = good ? cJSON_AddArrayToObject(o, "history") : NULL;
    good = history != NULL;
    for (uint32_t i = 0; good && i < s->n_history; i++)
        good = add_history_item(history, &s->history[i]);
    if (good)
        return o;
    cJSON_Delete(o);
    return NULL;
}

vkq_status vkq_write_json_line(const char *path, FILE *f, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of memory building a line", path);
    vkq_status status = vkq_write_bytes(path, f, text, 1, strlen(text));
    free(text);
    return status == VKQ_OK ? vkq_write_bytes(path, f, "\n", 1, 1) : status;
}

static vkq_status write_sample(const char *path, FILE *f, const vkq_sample *s)
{
    return vkq_write_json_line(path, f, sample_json(s));
}

static vkq_status write_samples(const char *path, FILE *f, void *user)
{
    const vkq_dataset *d = user;
    for (uint32_t i = 0; i < d->count; i++)
        VKQ_TRY(write_sample(path, f, &d->samples[i]));
    return VKQ_OK;
}

vkq_status vkq_dataset_write_jsonl(const vkq_dataset *d, const char *path)
{
    if (!d || !path)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_dataset_write_jsonl: NULL argument");
    if (d->count == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: no samples to write", path);
    for (uint32_t i = 0; i < d->count; i++)
        VKQ_TRY(check_sample(i, &d->samples[i]));
    return vkq_write_atomic(path, write_samples, (void *)d);
}
