/* LaMP and LongLaMP: a questions file and an outputs file joined by id. Each task's profile
 * items become history items through its row of the task table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

/* name, the name of its Hugging Face configurations (LongLaMP), history item input, history
 * item output: formats over the profile item's fields. LongLaMP-1 (email completion) is left
 * out: its data is private. */
#define LAMP_TASKS(X)                                                                       \
    X("LaMP-1", NULL, "", "{title}")                  /* citation identification */         \
    X("LaMP-2", NULL, "{description}", "{tag}")       /* movie tagging */                   \
    X("LaMP-3", NULL, "{text}", "{score}")            /* product rating */                  \
    X("LaMP-4", NULL, "{text}", "{title}")            /* news headlines */                  \
    X("LaMP-5", NULL, "{abstract}", "{title}")        /* scholarly titles */                \
    X("LaMP-6", NULL, "{text}", "{title}")            /* email subjects */                  \
    X("LaMP-7", NULL, "", "{text}")                   /* tweet paraphrasing */              \
    X("LongLaMP-2", "abstract_generation", "{title}", "{abstract}")                         \
    X("LongLaMP-3", "product_review", "Rating {overall}: {summary}", "{reviewText}")        \
    X("LongLaMP-4", "topic_writing", "{summary}", "{content}")

typedef struct lamp_task {
    const char *name;
    const char *configuration; /* + "_user" or "_temporal": the split, as LongLaMP names it */
    const char *history_input;
    const char *history_output;
} lamp_task;

#define TASK_ROW(name, configuration, input, output) {name, configuration, input, output},
#define TASK_NAME(name, configuration, input, output) name,
static const lamp_task TASKS[] = {LAMP_TASKS(TASK_ROW)};
static const char *const TASK_NAMES[] = {LAMP_TASKS(TASK_NAME) NULL};
enum { N_TASKS = sizeof TASKS / sizeof TASKS[0] };

const char *const *vkq_lamp_task_names(void) { return TASK_NAMES; }

enum { WHERE_SIZE = 1024, NUMBER_TEXT_SIZE = 32, PREFIX_SIZE = 32 };

typedef struct lamp_paths {
    const char *questions, *outputs;
} lamp_paths;

typedef struct gold {
    char *id;
    const char *output; /* inside the outputs document */
} gold;

typedef struct gold_index {
    gold *golds; /* sorted by id */
    uint32_t count;
} gold_index;

/* The text of a string, or of a number printed into number_text; NULL for other values. */
static const char *scalar_text(const cJSON *value, char number_text[NUMBER_TEXT_SIZE])
{
    if (cJSON_IsString(value))
        return value->valuestring;
    if (cJSON_IsNumber(value)) {
        snprintf(number_text, NUMBER_TEXT_SIZE, "%.15g", value->valuedouble);
        return number_text;
    }
    return NULL;
}

static vkq_status get_scalar(const vkq_field_ctx *c, const cJSON *object, const char *key,
                             char number_text[NUMBER_TEXT_SIZE], const char **out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!value)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: missing field \"%s%s\"", c->where, c->prefix,
                        key);
    *out = scalar_text(value, number_text);
    if (!*out)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"%s%s\" must be a string or a number",
                        c->where, c->prefix, key);
    return vkq_check_utf8(c, key, *out);
}

static vkq_status load_json_file(const char *path, cJSON **out)
{
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_status status = vkq_parse_json(path, 1, text, length, out);
    free(text);
    return status;
}

/* "LaMP-4" also answers to "LaMP_4", as the benchmark's own files spell it, and LongLaMP-2
 * also to "LongLaMP_2" and to its configurations "abstract_generation_user" and
 * "abstract_generation_temporal". */
static int names_task(const lamp_task *t, const char *name)
{
    size_t stem = strcspn(t->name, "-");
    if (strncmp(name, t->name, stem) == 0 && (name[stem] == '-' || name[stem] == '_') &&
        strcmp(name + stem + 1, t->name + stem + 1) == 0)
        return 1;
    size_t n = t->configuration ? strlen(t->configuration) : 0;
    return n && strncmp(name, t->configuration, n) == 0 &&
           (strcmp(name + n, "_user") == 0 || strcmp(name + n, "_temporal") == 0);
}

static vkq_status find_task(const char *path, const cJSON *outputs, const lamp_task **out)
{
    vkq_field_ctx c = {path, ""};
    char *name = NULL;
    VKQ_TRY(vkq_get_string(&c, outputs, "task", 1, &name));
    for (int i = 0; i < N_TASKS; i++)
        if (names_task(&TASKS[i], name)) {
            *out = &TASKS[i];
            free(name);
            return VKQ_OK;
        }
    char known[256] = "";
    for (int i = 0; i < N_TASKS; i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", TASKS[i].name);
    }
    vkq_status status = vkq_fail(VKQ_ERR_FORMAT,
                                 "%s: unknown task \"%s\" (known: %s; also with _ for -, and "
                                 "LongLaMP's configurations such as product_review_user)",
                                 path, name, known);
    free(name);
    return status;
}

static int gold_order(const void *a, const void *b)
{
    return strcmp(((const gold *)a)->id, ((const gold *)b)->id);
}

static vkq_status read_gold(const char *path, uint32_t index, const cJSON *value, gold *out)
{
    char prefix[PREFIX_SIZE], number_text[NUMBER_TEXT_SIZE];
    snprintf(prefix, sizeof prefix, "golds[%u].", index);
    vkq_field_ctx c = {path, prefix};
    if (!cJSON_IsObject(value))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"golds[%u]\" must be an object", path,
                        index);
    const char *id = NULL;
    VKQ_TRY(get_scalar(&c, value, "id", number_text, &id));
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(value, "output");
    if (!output)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: missing field \"golds[%u].output\"", path, index);
    if (!cJSON_IsString(output))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"golds[%u].output\" must be a string", path,
                        index);
    out->output = output->valuestring;
    return vkq_copy_string(id, &out->id);
}

static vkq_status index_golds(const char *path, const cJSON *outputs, gold_index *index)
{
    const cJSON *golds = cJSON_GetObjectItemCaseSensitive(outputs, "golds");
    if (!golds)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: missing field \"golds\"", path);
    if (!cJSON_IsArray(golds))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"golds\" must be an array", path);
    uint32_t n = (uint32_t)cJSON_GetArraySize(golds);
    index->golds = calloc(n ? n : 1, sizeof *index->golds);
    if (!index->golds)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u golds", path, n);
    const cJSON *value;
    cJSON_ArrayForEach(value, golds)
    {
        VKQ_TRY(read_gold(path, index->count, value, &index->golds[index->count]));
        index->count++;
    }
    qsort(index->golds, n, sizeof *index->golds, gold_order);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(index->golds[i - 1].id, index->golds[i].id) == 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: id \"%s\" appears twice in \"golds\"", path,
                            index->golds[i].id);
    return VKQ_OK;
}

static void free_golds(gold_index *index)
{
    for (uint32_t i = 0; i < index->count; i++)
        free(index->golds[i].id);
    free(index->golds);
}

static vkq_status read_outputs(const char *path, const cJSON *outputs, const lamp_task **task,
                               gold_index *golds)
{
    if (!cJSON_IsObject(outputs))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: the outputs must be a JSON object", path);
    VKQ_TRY(find_task(path, outputs, task));
    return index_golds(path, outputs, golds);
}

/* A profile item with its place in the file and its "date" (or "time"), if any. */
typedef struct profile_entry {
    const cJSON *item, *date;
    uint32_t index;
} profile_entry;

static const cJSON *date_of(const cJSON *item)
{
    const cJSON *date = cJSON_GetObjectItemCaseSensitive(item, "date");
    if (!date || cJSON_IsNull(date))
        date = cJSON_GetObjectItemCaseSensitive(item, "time");
    return date && !cJSON_IsNull(date) ? date : NULL;
}

static int by_index(const profile_entry *a, const profile_entry *b)
{
    return (a->index > b->index) - (a->index < b->index);
}

static int newer_text_first(const void *a, const void *b)
{
    const profile_entry *x = a, *y = b;
    int order = strcmp(y->date->valuestring, x->date->valuestring);
    return order ? order : by_index(x, y);
}

static int newer_number_first(const void *a, const void *b)
{
    const profile_entry *x = a, *y = b;
    if (x->date->valuedouble != y->date->valuedouble)
        return x->date->valuedouble < y->date->valuedouble ? 1 : -1;
    return by_index(x, y);
}

/* Newest first when every item has a date of one kind (strings compare as text, so ISO
 * dates sort right; numbers as numbers), else as given. Bad dates fail later, item by item. */
static void order_profile(profile_entry *entries, uint32_t n)
{
    uint32_t strings = 0, numbers = 0;
    for (uint32_t i = 0; i < n; i++) {
        strings += entries[i].date && cJSON_IsString(entries[i].date);
        numbers += entries[i].date && cJSON_IsNumber(entries[i].date);
    }
    if (strings == n)
        qsort(entries, n, sizeof *entries, newer_text_first);
    else if (numbers == n)
        qsort(entries, n, sizeof *entries, newer_number_first);
}

static vkq_status append_profile_field(const vkq_field_ctx *c, const cJSON *item,
                                       const vkq_format_part *part, vkq_strbuf *text)
{
    char key[64], number_text[NUMBER_TEXT_SIZE];
    snprintf(key, sizeof key, "%.*s", (int)part->length, part->text);
    const char *value = NULL;
    VKQ_TRY(get_scalar(c, item, key, number_text, &value));
    return vkq_strbuf_append_str(text, value);
}

/* A task format filled in from a profile item. */
static vkq_status render_profile(const vkq_field_ctx *c, const cJSON *item, const char *format,
                                 char **out)
{
    vkq_strbuf text = {0};
    vkq_format_part part;
    vkq_status status = VKQ_OK;
    while (status == VKQ_OK && vkq_format_next(&format, &part) == VKQ_FORMAT_PART) {
        if (part.is_placeholder)
            status = append_profile_field(c, item, &part, &text);
        else
            status = vkq_strbuf_append(&text, part.text, part.length);
    }
    if (status == VKQ_OK)
        status = vkq_strbuf_take(&text, out);
    vkq_strbuf_free(&text);
    return status;
}

static vkq_status history_item_from_profile(const char *where, const lamp_task *task,
                                            const profile_entry *entry, vkq_history_item *out)
{
    char prefix[PREFIX_SIZE];
    snprintf(prefix, sizeof prefix, "profile[%u].", entry->index);
    vkq_field_ctx c = {where, prefix};
    if (!cJSON_IsObject(entry->item))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"profile[%u]\" must be an object", where,
                        entry->index);
    VKQ_TRY(render_profile(&c, entry->item, task->history_input, &out->input));
    VKQ_TRY(render_profile(&c, entry->item, task->history_output, &out->output));
    return entry->date ? vkq_get_time(&c, entry->item, entry->date->string, &out->time) : VKQ_OK;
}

static vkq_status profile_entries(const char *where, const cJSON *profile,
                                  profile_entry **entries, uint32_t *n)
{
    if (!profile)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: missing field \"profile\"", where);
    if (!cJSON_IsArray(profile))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"profile\" must be an array", where);
    *n = (uint32_t)cJSON_GetArraySize(profile);
    *entries = malloc((*n ? *n : 1) * sizeof **entries);
    if (!*entries)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u profile items", where,
                        *n);
    uint32_t index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, profile)
    {
        (*entries)[index] = (profile_entry){item, date_of(item), index};
        index++;
    }
    order_profile(*entries, *n);
    return VKQ_OK;
}

static vkq_status history_from_profile(const char *where, const lamp_task *task,
                                       const cJSON *profile, vkq_sample *s)
{
    profile_entry *entries = NULL;
    uint32_t n = 0;
    vkq_status status = profile_entries(where, profile, &entries, &n);
    if (status == VKQ_OK) {
        s->history = calloc(n ? n : 1, sizeof *s->history);
        s->n_history = s->history ? n : 0; /* zeroed items free cleanly if one fails */
        if (!s->history)
            status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u history items",
                              where, n);
    }
    for (uint32_t i = 0; status == VKQ_OK && i < n; i++)
        status = history_item_from_profile(where, task, &entries[i], &s->history[i]);
    free(entries);
    return status;
}

static vkq_status target_from_gold(const char *where, const lamp_paths *paths, const char *id,
                                   const gold_index *golds, vkq_sample *s)
{
    gold key = {.id = (char *)id};
    const gold *found = bsearch(&key, golds->golds, golds->count, sizeof key, gold_order);
    if (!found)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no gold output with id \"%s\" in %s", where, id,
                        paths->outputs);
    if (!vkq_utf8_valid(found->output, strlen(found->output)))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: invalid UTF-8 in the gold output", where);
    if (found->output[0] == '\0')
        return vkq_fail(VKQ_ERR_FORMAT, "%s: empty target", where);
    return vkq_copy_string(found->output, &s->target);
}

static vkq_status sample_from_question(const char *where, const lamp_paths *paths,
                                       const cJSON *question, const lamp_task *task,
                                       const gold_index *golds, vkq_sample *s)
{
    if (!cJSON_IsObject(question))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a question must be a JSON object", where);
    vkq_field_ctx c = {where, ""};
    char number_text[NUMBER_TEXT_SIZE];
    const char *id = NULL;
    VKQ_TRY(get_scalar(&c, question, "id", number_text, &id));
    VKQ_TRY(vkq_copy_string(id, &s->user));
    VKQ_TRY(vkq_get_string(&c, question, "input", 1, &s->input));
    VKQ_TRY(target_from_gold(where, paths, id, golds, s));
    const cJSON *profile = cJSON_GetObjectItemCaseSensitive(question, "profile");
    return history_from_profile(where, task, profile, s);
}

static vkq_status load_questions(const lamp_paths *paths, const cJSON *questions,
                                 const lamp_task *task, const gold_index *golds, int skip_bad,
                                 vkq_dataset *d)
{
    if (!cJSON_IsArray(questions))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: the questions must be a JSON array",
                        paths->questions);
    uint32_t number = 0;
    const cJSON *question;
    cJSON_ArrayForEach(question, questions)
    {
        char where[WHERE_SIZE];
        snprintf(where, sizeof where, "%s: question %u", paths->questions, ++number);
        vkq_sample s = {.line = number};
        vkq_status status = sample_from_question(where, paths, question, task, golds, &s);
        VKQ_TRY(vkq_dataset_add(d, status, &s, skip_bad));
    }
    return VKQ_OK;
}

vkq_status vkq_dataset_load_lamp(const char *questions_path, const char *outputs_path,
                                 int skip_bad, vkq_dataset *out)
{
    memset(out, 0, sizeof *out);
    lamp_paths paths = {questions_path, outputs_path};
    cJSON *outputs = NULL, *questions = NULL;
    const lamp_task *task = NULL;
    gold_index golds = {0};
    vkq_status status = load_json_file(outputs_path, &outputs);
    if (status == VKQ_OK)
        status = read_outputs(outputs_path, outputs, &task, &golds);
    if (status == VKQ_OK)
        status = load_json_file(questions_path, &questions);
    if (status == VKQ_OK)
        status = load_questions(&paths, questions, task, &golds, skip_bad, out);
    if (status == VKQ_OK)
        status = vkq_dataset_finish(out, questions_path);
    free_golds(&golds);
    cJSON_Delete(questions);
    cJSON_Delete(outputs);
    if (status != VKQ_OK)
        vkq_dataset_free(out);
    return status;
}
