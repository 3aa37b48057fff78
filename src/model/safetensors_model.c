/* Model directories: model.safetensors.index.json with its shards, or one model.safetensors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/json_text.h"
#include "base/mapped.h"
#include "base/status_internal.h"
#include "model/safetensors_internal.h"

typedef struct entry {
    const char *name;
    const vkq_st_tensor *tensor;
    size_t shard;
} entry;

struct vkq_st_model {
    char *dir;
    vkq_st_file **shards;
    size_t n_shards;
    entry *entries; /* sorted by name */
    size_t count;
};

static vkq_status add_shard(vkq_st_model *m, const char *file)
{
    vkq_st_file **grown = realloc(m->shards, (m->n_shards + 1) * sizeof *grown);
    if (!grown)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot list %zu shards", m->dir,
                        m->n_shards + 1);
    m->shards = grown;
    char *path = vkq_st_join(m->dir, file);
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", m->dir);
    vkq_status s = vkq_st_open(path, &m->shards[m->n_shards]);
    free(path);
    if (s == VKQ_OK)
        m->n_shards++;
    return s;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static vkq_status open_single(vkq_st_model *m)
{
    VKQ_TRY(add_shard(m, VKQ_ST_SINGLE_NAME));
    const vkq_st_file *f = m->shards[0];
    m->count = vkq_st_count(f);
    m->entries = calloc(m->count ? m->count : 1, sizeof *m->entries);
    if (!m->entries)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot list %zu tensors", m->dir, m->count);
    for (size_t i = 0; i < m->count; i++) {
        const vkq_st_tensor *t = vkq_st_at(f, i);
        m->entries[i] = (entry){t->name, t, 0};
    }
    qsort(m->entries, m->count, sizeof *m->entries, by_name);
    return VKQ_OK;
}

/* A shard must be a plain file name inside the directory. */
static int plain_file_name(const char *name)
{
    return name[0] != '\0' && !strchr(name, '/') && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

static vkq_status shard_of(vkq_st_model *m, const char *index, const cJSON *item, size_t *out)
{
    char shown[VKQ_ST_SHOWN], shown_file[VKQ_ST_SHOWN];
    if (!cJSON_IsString(item))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": the weight_map value must be a "
                        "file name", index, vkq_st_shown(item->string, shown));
    if (!plain_file_name(item->valuestring))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": shard \"%s\" is not a file in %s",
                        index, vkq_st_shown(item->string, shown),
                        vkq_st_shown(item->valuestring, shown_file), m->dir);
    char *path = vkq_st_join(m->dir, item->valuestring);
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", m->dir);
    size_t i = 0;
    while (i < m->n_shards && strcmp(vkq_st_path(m->shards[i]), path) != 0)
        i++;
    free(path);
    *out = i;
    return i < m->n_shards ? VKQ_OK : add_shard(m, item->valuestring);
}

static const entry *find_entry(const vkq_st_model *m, const char *name)
{
    entry key = {.name = name};
    return bsearch(&key, m->entries, m->count, sizeof *m->entries, by_name);
}

/* Every tensor of every shard must be named by the weight map, and for that shard. */
static vkq_status check_shards_listed(const vkq_st_model *m, const char *index)
{
    for (size_t s = 0; s < m->n_shards; s++)
        for (size_t i = 0; i < vkq_st_count(m->shards[s]); i++) {
            const vkq_st_tensor *t = vkq_st_at(m->shards[s], i);
            const entry *e = find_entry(m, t->name);
            if (!e || e->shard != s) {
                char shown[VKQ_ST_SHOWN];
                return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": %s does not map it to this "
                                "shard", t->file, vkq_st_shown(t->name, shown), index);
            }
        }
    return VKQ_OK;
}

static vkq_status read_weight_map(vkq_st_model *m, const char *index, const cJSON *map)
{
    m->entries = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof *m->entries);
    if (!m->entries)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot list its tensors", index);
    for (const cJSON *item = map->child; item; item = item->next) {
        size_t shard = 0;
        VKQ_TRY(shard_of(m, index, item, &shard));
        const vkq_st_tensor *t = vkq_st_find(m->shards[shard], item->string);
        char shown[VKQ_ST_SHOWN];
        if (!t)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": not in its shard %s", index,
                            vkq_st_shown(item->string, shown), item->valuestring);
        m->entries[m->count++] = (entry){t->name, t, shard};
    }
    qsort(m->entries, m->count, sizeof *m->entries, by_name);
    for (size_t i = 1; i < m->count; i++)
        if (strcmp(m->entries[i - 1].name, m->entries[i].name) == 0) {
            char shown[VKQ_ST_SHOWN];
            return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\" appears twice in the weight_map",
                            index, vkq_st_shown(m->entries[i].name, shown));
        }
    return check_shards_listed(m, index);
}

static vkq_status parse_index(const char *index, const vkq_mapped_file *text, cJSON **out)
{
    VKQ_TRY(vkq_json_object_parse(index, "the index", (const char *)text->data, text->size,
                                  out));
    const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(*out, "metadata");
    if (metadata && !cJSON_IsObject(metadata) && !cJSON_IsNull(metadata))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"metadata\" must be an object", index);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*out, "weight_map")))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"weight_map\" must be an object of tensor names "
                        "to shard files", index);
    return VKQ_OK;
}

static vkq_status open_index(vkq_st_model *m, const char *index)
{
    vkq_mapped_file text;
    VKQ_TRY(vkq_map_file(index, &text));
    cJSON *root = NULL;
    vkq_status s = parse_index(index, &text, &root);
    if (s == VKQ_OK)
        s = read_weight_map(m, index, cJSON_GetObjectItemCaseSensitive(root, "weight_map"));
    /* the entries' names point into the shards, not into the index */
    cJSON_Delete(root);
    vkq_unmap_file(&text);
    return s;
}

static vkq_status open_dir(vkq_st_model *m)
{
    char *index = vkq_st_join(m->dir, VKQ_ST_INDEX_NAME);
    char *single = vkq_st_join(m->dir, VKQ_ST_SINGLE_NAME);
    vkq_status s;
    if (!index || !single)
        s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", m->dir);
    else if (access(index, F_OK) == 0)
        s = open_index(m, index);
    else if (access(single, F_OK) == 0)
        s = open_single(m);
    else
        s = vkq_fail(VKQ_ERR_IO, "%s: holds neither %s nor %s", m->dir, VKQ_ST_INDEX_NAME,
                     VKQ_ST_SINGLE_NAME);
    free(index);
    free(single);
    return s;
}

vkq_status vkq_st_model_open(const char *dir, vkq_st_model **out)
{
    *out = calloc(1, sizeof **out);
    if (*out)
        (*out)->dir = strdup(dir);
    vkq_status s = *out && (*out)->dir
                       ? open_dir(*out)
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a model", dir);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_st_model_close(*out);
        *out = NULL;
        return vkq_error_restore(&e);
    }
    return VKQ_OK;
}

void vkq_st_model_close(vkq_st_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_shards; i++)
        vkq_st_close(m->shards[i]);
    free(m->shards);
    free(m->entries);
    free(m->dir);
    free(m);
}

size_t vkq_st_model_count(const vkq_st_model *m) { return m->count; }

const vkq_st_tensor *vkq_st_model_at(const vkq_st_model *m, size_t index)
{
    return index < m->count ? m->entries[index].tensor : NULL;
}

const vkq_st_tensor *vkq_st_model_find(const vkq_st_model *m, const char *name)
{
    const entry *e = find_entry(m, name);
    return e ? e->tensor : NULL;
}

vkq_status vkq_st_model_get(const vkq_st_model *m, const char *name, const vkq_st_tensor **out)
{
    *out = vkq_st_model_find(m, name);
    if (!*out) {
        char shown[VKQ_ST_SHOWN];
        return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": not in the model", m->dir,
                        vkq_st_shown(name, shown));
    }
    return VKQ_OK;
}
