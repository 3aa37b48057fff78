/* The GGUF writer: key-value pairs serialised as they are added, tensor infos kept until the
 * file is written, tensor data streamed from each tensor's fill. */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/text.h"
#include "vkquill/gguf.h"

/* gguf_type: the value types of key-value pairs. */
enum {
    VALUE_U32 = 4,
    VALUE_I32 = 5,
    VALUE_F32 = 6,
    VALUE_BOOL = 7,
    VALUE_STRING = 8,
    VALUE_ARRAY = 9
};

typedef struct tensor_info {
    char *name;
    int n_dims;
    uint64_t dims[VKQ_GGUF_MAX_DIMS];
    vkq_gguf_type type;
    uint64_t size; /* bytes */
    vkq_gguf_fill fill;
    void *user;
} tensor_info;

struct vkq_gguf {
    vkq_strbuf kv; /* the serialised pairs */
    uint64_t n_kv;
    tensor_info *tensors;
    size_t n_tensors, capacity;
};

vkq_status vkq_gguf_type_parse(const char *name, vkq_gguf_type *out)
{
    static const vkq_gguf_type types[] = {VKQ_GGUF_F32, VKQ_GGUF_F16, VKQ_GGUF_BF16};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(name, vkq_gguf_type_name(types[i])) == 0) {
            *out = types[i];
            return VKQ_OK;
        }
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "unknown GGUF type '%s' (f16, bf16 or f32)",
                    VKQ_QUOTE(name));
}

const char *vkq_gguf_type_name(vkq_gguf_type type)
{
    return type == VKQ_GGUF_F32 ? "f32" : type == VKQ_GGUF_F16 ? "f16" : "bf16";
}

size_t vkq_gguf_type_size(vkq_gguf_type type)
{
    return type == VKQ_GGUF_F32 ? 4 : 2;
}

vkq_status vkq_gguf_new(vkq_gguf **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate a GGUF file");
}

void vkq_gguf_free(vkq_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->tensors);
    vkq_strbuf_free(&g->kv);
    free(g);
}

static vkq_status put_le(vkq_strbuf *b, uint64_t value, int bytes)
{
    char le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (char)(value >> 8 * i);
    return vkq_strbuf_append(b, le, (size_t)bytes);
}

static vkq_status put_f32(vkq_strbuf *b, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return put_le(b, bits, 4);
}

static vkq_status put_string(vkq_strbuf *b, const char *s)
{
    size_t n = strlen(s);
    VKQ_TRY(put_le(b, n, 8));
    return vkq_strbuf_append(b, s, n);
}

/* The key and the value's type; the value follows. */
static vkq_status begin_pair(vkq_gguf *g, const char *key, uint32_t type)
{
    if (!key[0])
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "GGUF keys must not be empty");
    g->n_kv++;
    VKQ_TRY(put_string(&g->kv, key));
    return put_le(&g->kv, type, 4);
}

static vkq_status begin_array(vkq_gguf *g, const char *key, uint32_t type, size_t n)
{
    VKQ_TRY(begin_pair(g, key, VALUE_ARRAY));
    VKQ_TRY(put_le(&g->kv, type, 4));
    return put_le(&g->kv, n, 8);
}

vkq_status vkq_gguf_add_string(vkq_gguf *g, const char *key, const char *value)
{
    VKQ_TRY(begin_pair(g, key, VALUE_STRING));
    return put_string(&g->kv, value);
}

vkq_status vkq_gguf_add_u32(vkq_gguf *g, const char *key, uint32_t value)
{
    VKQ_TRY(begin_pair(g, key, VALUE_U32));
    return put_le(&g->kv, value, 4);
}

vkq_status vkq_gguf_add_f32(vkq_gguf *g, const char *key, float value)
{
    VKQ_TRY(begin_pair(g, key, VALUE_F32));
    return put_f32(&g->kv, value);
}

vkq_status vkq_gguf_add_bool(vkq_gguf *g, const char *key, int value)
{
    VKQ_TRY(begin_pair(g, key, VALUE_BOOL));
    return put_le(&g->kv, value != 0, 1);
}

vkq_status vkq_gguf_add_strings(vkq_gguf *g, const char *key, const char *const *values,
                                size_t n)
{
    VKQ_TRY(begin_array(g, key, VALUE_STRING, n));
    for (size_t i = 0; i < n; i++)
        VKQ_TRY(put_string(&g->kv, values[i]));
    return VKQ_OK;
}

vkq_status vkq_gguf_add_i32s(vkq_gguf *g, const char *key, const int32_t *values, size_t n)
{
    VKQ_TRY(begin_array(g, key, VALUE_I32, n));
    for (size_t i = 0; i < n; i++)
        VKQ_TRY(put_le(&g->kv, (uint32_t)values[i], 4));
    return VKQ_OK;
}

vkq_status vkq_gguf_add_f32s(vkq_gguf *g, const char *key, const float *values, size_t n)
{
    VKQ_TRY(begin_array(g, key, VALUE_F32, n));
    for (size_t i = 0; i < n; i++)
        VKQ_TRY(put_f32(&g->kv, values[i]));
    return VKQ_OK;
}

static vkq_status tensor_size(const char *name, int n_dims, const uint64_t *dims,
                              vkq_gguf_type type, uint64_t *size)
{
    if (n_dims < 1 || n_dims > VKQ_GGUF_MAX_DIMS)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "GGUF tensor %s: %d dimensions (1 to %d)",
                        name, n_dims, VKQ_GGUF_MAX_DIMS);
    if (type != VKQ_GGUF_F32 && type != VKQ_GGUF_F16 && type != VKQ_GGUF_BF16)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "GGUF tensor %s: unsupported type %d", name,
                        (int)type);
    *size = vkq_gguf_type_size(type);
    for (int d = 0; d < n_dims; d++) {
        if (dims[d] == 0 || dims[d] > (UINT64_MAX / 2) / *size)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "GGUF tensor %s: dimension %d is %llu",
                            name, d, (unsigned long long)dims[d]);
        *size *= dims[d];
    }
    return VKQ_OK;
}

vkq_status vkq_gguf_add_tensor(vkq_gguf *g, const char *name, int n_dims, const uint64_t *dims,
                               vkq_gguf_type type, vkq_gguf_fill fill, void *user)
{
    tensor_info t = {.n_dims = n_dims, .type = type, .fill = fill, .user = user};
    VKQ_TRY(tensor_size(name, n_dims, dims, type, &t.size));
    for (size_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "GGUF tensor %s is given twice", name);
    if (g->n_tensors == g->capacity) {
        size_t capacity = g->capacity ? 2 * g->capacity : 64;
        tensor_info *grown = realloc(g->tensors, capacity * sizeof *grown);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot hold %zu tensor infos", capacity);
        g->tensors = grown;
        g->capacity = capacity;
    }
    memcpy(t.dims, dims, (size_t)n_dims * sizeof *dims);
    VKQ_TRY(vkq_copy_string(name, &t.name));
    g->tensors[g->n_tensors++] = t;
    return VKQ_OK;
}

static uint64_t aligned(uint64_t offset)
{
    return (offset + VKQ_GGUF_ALIGNMENT - 1) / VKQ_GGUF_ALIGNMENT * VKQ_GGUF_ALIGNMENT;
}

/* Everything before the data section: header, pairs, tensor infos, padding. */
static vkq_status build_head(const vkq_gguf *g, vkq_strbuf *head)
{
    VKQ_TRY(vkq_strbuf_append(head, "GGUF", 4));
    VKQ_TRY(put_le(head, VKQ_GGUF_VERSION, 4));
    VKQ_TRY(put_le(head, g->n_tensors, 8));
    VKQ_TRY(put_le(head, g->n_kv, 8));
    if (g->kv.length)
        VKQ_TRY(vkq_strbuf_append(head, g->kv.data, g->kv.length));
    uint64_t offset = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const tensor_info *t = &g->tensors[i];
        VKQ_TRY(put_string(head, t->name));
        VKQ_TRY(put_le(head, (uint64_t)t->n_dims, 4));
        for (int d = 0; d < t->n_dims; d++)
            VKQ_TRY(put_le(head, t->dims[d], 8));
        VKQ_TRY(put_le(head, (uint64_t)t->type, 4));
        VKQ_TRY(put_le(head, offset, 8));
        offset = aligned(offset + t->size);
    }
    static const char zeros[VKQ_GGUF_ALIGNMENT];
    return vkq_strbuf_append(head, zeros, aligned(head->length) - head->length);
}

typedef struct write_job {
    const vkq_gguf *g;
    const vkq_strbuf *head;
} write_job;

static vkq_status write_contents(const char *tmp_path, FILE *f, void *user)
{
    const write_job *job = user;
    static const char zeros[VKQ_GGUF_ALIGNMENT];
    VKQ_TRY(vkq_write_bytes(tmp_path, f, job->head->data, 1, job->head->length));
    for (size_t i = 0; i < job->g->n_tensors; i++) {
        const tensor_info *t = &job->g->tensors[i];
        VKQ_TRY(vkq_write_filled(tmp_path, f, t->fill, t->user, t->size));
        size_t pad = (size_t)(aligned(t->size) - t->size);
        if (pad)
            VKQ_TRY(vkq_write_bytes(tmp_path, f, zeros, 1, pad));
    }
    return VKQ_OK;
}

vkq_status vkq_gguf_write(const vkq_gguf *g, const char *path)
{
    vkq_strbuf head = {0};
    write_job job = {g, &head};
    vkq_status s = build_head(g, &head);
    if (s == VKQ_OK)
        s = vkq_write_atomic(path, write_contents, &job);
    vkq_strbuf_free(&head);
    return s;
}
