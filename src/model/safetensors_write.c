/* The safetensors writer: files laid out as the reference writer lays them out, written
 * atomically, sharded with an index as transformers shards them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "base/utf8.h"
#include "model/safetensors_internal.h"

typedef struct planned {
    const vkq_st_write_tensor *t;
    uint64_t size;
} planned;

typedef struct file_plan {
    planned *tensors;
    size_t n;
    const vkq_st_metadata_entry *metadata;
    size_t n_metadata;
    char *header;
    size_t header_size; /* padded */
} file_plan;

static vkq_status check_tensor(const char *path, const vkq_st_write_tensor *t, uint64_t *size)
{
    char shown[VKQ_ST_SHOWN];
    if (!t->name || !t->name[0] || !vkq_utf8_valid(t->name, strlen(t->name)) ||
        strcmp(t->name, "__metadata__") == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": not a usable tensor name",
                        path, t->name ? vkq_st_shown(t->name, shown) : "(null)");
    vkq_st_shown(t->name, shown);
    if ((unsigned)t->dtype >= VKQ_ST_DTYPE_COUNT)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": unknown dtype %d", path,
                        shown, (int)t->dtype);
    if (t->rank < 0 || t->rank > VKQ_ST_MAX_RANK)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": rank %d is not in [0, %d]",
                        path, shown, t->rank, VKQ_ST_MAX_RANK);
    if (!t->data && !t->fill)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": neither data nor fill",
                        path, shown);
    uint64_t count;
    const char *problem = NULL;
    if (vkq_st_element_bytes(t->dtype, t->shape, t->rank, &count, size, &problem))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": %s", path, shown, problem);
    return VKQ_OK;
}

/* The reference writer's order: descending dtype, then name. */
static int writing_order(const void *a, const void *b)
{
    const vkq_st_write_tensor *x = ((const planned *)a)->t, *y = ((const planned *)b)->t;
    if (x->dtype != y->dtype)
        return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A JSON string escaped as serde_json escapes it. */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *short_form = *c == '"' ? "\\\"" : *c == '\\' ? "\\\\" : *c == '\b' ? "\\b"
                                 : *c == '\f' ? "\\f" : *c == '\n' ? "\\n" : *c == '\r' ? "\\r"
                                 : *c == '\t' ? "\\t" : NULL;
        if (short_form)
            fputs(short_form, f);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void put_tensor(FILE *f, const vkq_st_write_tensor *t, uint64_t begin, uint64_t size)
{
    put_string(f, t->name);
    fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", vkq_st_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        fprintf(f, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
    fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin,
            (unsigned long long)(begin + size));
}

static vkq_status build_header(const char *path, file_plan *p)
{
    size_t length = 0;
    FILE *f = open_memstream(&p->header, &length);
    if (!f)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot build the header", path);
    fputc('{', f);
    if (p->n_metadata) {
        fputs("\"__metadata__\":{", f);
        for (size_t i = 0; i < p->n_metadata; i++) {
            fputs(i ? "," : "", f);
            put_string(f, p->metadata[i].key);
            fputc(':', f);
            put_string(f, p->metadata[i].value);
        }
        fputc('}', f);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < p->n; i++) {
        fputs(i || p->n_metadata ? "," : "", f);
        put_tensor(f, p->tensors[i].t, offset, p->tensors[i].size);
        offset += p->tensors[i].size;
    }
    fputc('}', f);
    while ((length = (size_t)ftell(f)) % 8 != 0)
        fputc(' ', f);
    if (fclose(f) != 0 || !p->header)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot build the header", path);
    p->header_size = length;
    return VKQ_OK;
}

static vkq_status write_contents(const char *tmp_path, FILE *f, void *user)
{
    const file_plan *p = user;
    unsigned char length[8];
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)((uint64_t)p->header_size >> 8 * i);
    VKQ_TRY(vkq_write_bytes(tmp_path, f, length, 1, 8));
    VKQ_TRY(vkq_write_bytes(tmp_path, f, p->header, 1, p->header_size));
    for (size_t i = 0; i < p->n; i++) {
        const planned *t = &p->tensors[i];
        if (t->t->data)
            VKQ_TRY(vkq_write_bytes(tmp_path, f, t->t->data, 1, (size_t)t->size));
        else
            VKQ_TRY(vkq_write_filled(tmp_path, f, t->t->fill, t->t->user, t->size));
    }
    return VKQ_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const planned *)a)->t->name, ((const planned *)b)->t->name);
}

/* Checks every tensor and fills out[i] for tensors[i], in the caller's order. */
static vkq_status check_all(const char *path, const vkq_st_write_tensor *tensors, size_t n,
                            planned *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i].t = &tensors[i];
        VKQ_TRY(check_tensor(path, &tensors[i], &out[i].size));
    }
    planned *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot sort %zu names", path, n);
    memcpy(sorted, out, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_name);
    vkq_status s = VKQ_OK;
    for (size_t i = 1; i < n && s == VKQ_OK; i++)
        if (strcmp(sorted[i - 1].t->name, sorted[i].t->name) == 0) {
            char shown[VKQ_ST_SHOWN];
            s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\" is given twice", path,
                         vkq_st_shown(sorted[i].t->name, shown));
        }
    free(sorted);
    return s;
}

static vkq_status write_planned(const char *path, file_plan *p)
{
    qsort(p->tensors, p->n, sizeof *p->tensors, writing_order);
    VKQ_TRY(build_header(path, p));
    return vkq_write_atomic(path, write_contents, p);
}

vkq_status vkq_st_write_file(const char *path, const vkq_st_write_tensor *tensors, size_t n,
                             const vkq_st_metadata_entry *metadata, size_t n_metadata)
{
    file_plan p = {.n = n, .metadata = metadata, .n_metadata = n_metadata};
    p.tensors = calloc(n ? n : 1, sizeof *p.tensors);
    if (!p.tensors)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot plan %zu tensors", path, n);
    vkq_status s = check_all(path, tensors, n, p.tensors);
    if (s == VKQ_OK)
        s = write_planned(path, &p);
    free(p.tensors);
    free(p.header);
    return s;
}

/* Sharded output. */

typedef struct index_plan {
    planned *all;     /* in the caller's order */
    size_t *shard_of; /* by tensor */
    size_t n, n_shards;
    uint64_t total_size;
} index_plan;

static void shard_name(char *out, size_t size, size_t shard, size_t n_shards)
{
    snprintf(out, size, "model-%05zu-of-%05zu.safetensors", shard + 1, n_shards);
}

/* Consecutive tensors in the caller's order; a shard closes where the next would pass limit,
 * so a tensor larger than limit gets a shard of its own. */
static void plan_shards(index_plan *ip, uint64_t limit)
{
    uint64_t filled = 0;
    ip->n_shards = 1;
    ip->total_size = 0;
    for (size_t i = 0; i < ip->n; i++) {
        uint64_t size = ip->all[i].size;
        if (filled > 0 && size > limit - (filled < limit ? filled : limit)) {
            ip->n_shards++;
            filled = 0;
        }
        filled += size;
        ip->total_size += size;
        ip->shard_of[i] = ip->n_shards - 1;
    }
}

typedef struct named_shard {
    const char *name;
    size_t shard;
} named_shard;

static int by_shard_name(const void *a, const void *b)
{
    return strcmp(((const named_shard *)a)->name, ((const named_shard *)b)->name);
}

/* As transformers writes it: json.dumps(index, indent=2, sort_keys=True) and a newline. */
static vkq_status write_index_contents(const char *tmp_path, FILE *f, void *user)
{
    const index_plan *ip = user;
    named_shard *order = malloc((ip->n ? ip->n : 1) * sizeof *order);
    if (!order)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot sort %zu names", tmp_path, ip->n);
    for (size_t i = 0; i < ip->n; i++)
        order[i] = (named_shard){ip->all[i].t->name, ip->shard_of[i]};
    qsort(order, ip->n, sizeof *order, by_shard_name);
    fprintf(f, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {",
            (unsigned long long)ip->total_size);
    for (size_t i = 0; i < ip->n; i++) {
        char name[64];
        shard_name(name, sizeof name, order[i].shard, ip->n_shards);
        fputs(i ? ",\n    " : "\n    ", f);
        put_string(f, order[i].name);
        fprintf(f, ": \"%s\"", name);
    }
    fputs(ip->n ? "\n  }\n}\n" : "}\n}\n", f);
    free(order);
    return ferror(f) ? vkq_fail(VKQ_ERR_IO, "%s: write failed", tmp_path) : VKQ_OK;
}

/* A stale file of the other layout would be read in place of the new one. */
static vkq_status remove_stale(const char *dir, const char *name)
{
    char *path = vkq_st_join(dir, name);
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
    vkq_status s = vkq_remove_if_present(path);
    free(path);
    return s;
}

/* The tensors of one shard (all of them when there is one) into dir/name. */
static vkq_status write_shard(const char *dir, const index_plan *ip, size_t shard,
                              file_plan *p)
{
    p->n = 0;
    for (size_t i = 0; i < ip->n; i++)
        if (ip->shard_of[i] == shard)
            p->tensors[p->n++] = ip->all[i];
    char name[64];
    if (ip->n_shards == 1)
        snprintf(name, sizeof name, "%s", VKQ_ST_SINGLE_NAME);
    else
        shard_name(name, sizeof name, shard, ip->n_shards);
    char *path = vkq_st_join(dir, name);
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
    free(p->header);
    p->header = NULL;
    vkq_status s = write_planned(path, p);
    free(path);
    return s;
}

static vkq_status write_index(const char *dir, index_plan *ip)
{
    char *index = vkq_st_join(dir, VKQ_ST_INDEX_NAME);
    if (!index)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
    vkq_status s = vkq_write_atomic(index, write_index_contents, ip);
    free(index);
    return s;
}

static vkq_status write_model(const char *dir, const vkq_st_write_tensor *tensors,
                              index_plan *ip, file_plan *p, uint64_t limit)
{
    VKQ_TRY(check_all(dir, tensors, ip->n, ip->all));
    plan_shards(ip, limit);
    for (size_t shard = 0; shard < ip->n_shards; shard++)
        VKQ_TRY(write_shard(dir, ip, shard, p));
    if (ip->n_shards == 1)
        return remove_stale(dir, VKQ_ST_INDEX_NAME);
    VKQ_TRY(write_index(dir, ip));
    return remove_stale(dir, VKQ_ST_SINGLE_NAME);
}

vkq_status vkq_st_write_model(const char *dir, const vkq_st_write_tensor *tensors, size_t n,
                              const vkq_st_metadata_entry *metadata, size_t n_metadata,
                              uint64_t shard_bytes)
{
    if (shard_bytes == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: the shard size must be positive", dir);
    VKQ_TRY(vkq_make_dirs(dir));
    index_plan ip = {.n = n};
    file_plan p = {.metadata = metadata, .n_metadata = n_metadata};
    ip.all = calloc(n ? n : 1, sizeof *ip.all);
    ip.shard_of = calloc(n ? n : 1, sizeof *ip.shard_of);
    p.tensors = calloc(n ? n : 1, sizeof *p.tensors);
    vkq_status s = ip.all && ip.shard_of && p.tensors
                       ? write_model(dir, tensors, &ip, &p, shard_bytes)
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot plan %zu tensors", dir, n);
    free(ip.all);
    free(ip.shard_of);
    free(p.tensors);
    free(p.header);
    return s;
}
