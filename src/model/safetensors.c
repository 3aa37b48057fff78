/* The safetensors reader: one file, checked the way the reference reader checks it, plus the
 * fp32 <-> F16/BF16 conversions. */
#include "vkquill/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json_text.h"
#include "base/mapped.h"
#include "base/status_internal.h"
#include "model/safetensors_internal.h"

static const struct {
    const char *name;
    unsigned bits;
} dtypes[VKQ_ST_DTYPE_COUNT] = {
    [VKQ_ST_BOOL] = {"BOOL", 8},       [VKQ_ST_F4] = {"F4", 4},
    [VKQ_ST_F6_E2M3] = {"F6_E2M3", 6}, [VKQ_ST_F6_E3M2] = {"F6_E3M2", 6},
    [VKQ_ST_U8] = {"U8", 8},           [VKQ_ST_I8] = {"I8", 8},
    [VKQ_ST_F8_E5M2] = {"F8_E5M2", 8}, [VKQ_ST_F8_E4M3] = {"F8_E4M3", 8},
    [VKQ_ST_F8_E8M0] = {"F8_E8M0", 8}, [VKQ_ST_I16] = {"I16", 16},
    [VKQ_ST_U16] = {"U16", 16},        [VKQ_ST_F16] = {"F16", 16},
    [VKQ_ST_BF16] = {"BF16", 16},      [VKQ_ST_I32] = {"I32", 32},
    [VKQ_ST_U32] = {"U32", 32},        [VKQ_ST_F32] = {"F32", 32},
    [VKQ_ST_C64] = {"C64", 64},        [VKQ_ST_F64] = {"F64", 64},
    [VKQ_ST_I64] = {"I64", 64},        [VKQ_ST_U64] = {"U64", 64},
};

const char *vkq_st_dtype_name(vkq_st_dtype dtype)
{
    return (unsigned)dtype < VKQ_ST_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

unsigned vkq_st_dtype_bits(vkq_st_dtype dtype)
{
    return (unsigned)dtype < VKQ_ST_DTYPE_COUNT ? dtypes[dtype].bits : 0;
}

int vkq_st_dtype_is_float(vkq_st_dtype dtype)
{
    return dtype == VKQ_ST_F32 || dtype == VKQ_ST_F16 || dtype == VKQ_ST_BF16;
}

static int dtype_from_name(const char *name, vkq_st_dtype *out)
{
    for (int d = 0; d < VKQ_ST_DTYPE_COUNT; d++)
        if (strcmp(dtypes[d].name, name) == 0) {
            *out = (vkq_st_dtype)d;
            return 1;
        }
    return 0;
}

const char *vkq_st_shown(const char *name, char buffer[VKQ_ST_SHOWN])
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c && n < VKQ_ST_SHOWN - 4; c++)
        buffer[n++] = *c < 0x20 || *c == 0x7F ? '?' : (char)*c;
    if (name[n] != '\0') {
        while (n > 0 && ((unsigned char)buffer[n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
        memcpy(buffer + n, "...", 3);
        n += 3;
    }
    buffer[n] = '\0';
    return buffer;
}

vkq_status vkq_st_element_bytes(vkq_st_dtype dtype, const uint64_t *shape, int rank,
                                uint64_t *count, uint64_t *bytes, const char **problem)
{
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] != 0 && n > UINT64_MAX / shape[i]) {
            *problem = "the element count overflows 64 bits";
            return VKQ_ERR_FORMAT;
        }
        n *= shape[i];
    }
    uint64_t bits = vkq_st_dtype_bits(dtype);
    if (n > UINT64_MAX / bits) {
        *problem = "the byte count overflows 64 bits";
        return VKQ_ERR_FORMAT;
    }
    if (n * bits % 8 != 0) {
        *problem = "the elements do not fill a whole number of bytes";
        return VKQ_ERR_FORMAT;
    }
    *count = n;
    *bytes = n * bits / 8;
    return VKQ_OK;
}

struct vkq_st_file {
    char *path;
    vkq_mapped_file map; /* empty when the bytes are borrowed */
    cJSON *header;       /* owns the tensor names and the metadata strings */
    vkq_st_tensor *tensors;
    size_t count;
    const vkq_st_tensor **by_name;
    const cJSON *metadata;
};

/* Shared by the error messages of one file. */
typedef struct parse_ctx {
    const char *path;
    const char *tensor;
    uint64_t data_size;
} parse_ctx;

static vkq_status tensor_error(const parse_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static vkq_status tensor_error(const parse_ctx *c, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char shown[VKQ_ST_SHOWN];
    return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": %s", c->path,
                    vkq_st_shown(c->tensor, shown), what);
}

/* A JSON number that is a whole number in [0, 2^53], where doubles are still exact. */
static int json_whole(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v))
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static vkq_status parse_shape(const parse_ctx *c, const cJSON *shape, vkq_st_tensor *t)
{
    if (!cJSON_IsArray(shape))
        return tensor_error(c, "\"shape\" must be an array of dims");
    int rank = cJSON_GetArraySize(shape);
    if (rank > VKQ_ST_MAX_RANK)
        return tensor_error(c, "has %d dims; at most %d are supported", rank, VKQ_ST_MAX_RANK);
    t->rank = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next) {
        if (!json_whole(dim, &t->shape[t->rank])) {
            char *text = cJSON_PrintUnformatted(dim);
            vkq_status s = tensor_error(c, "shape dim %s is not a non-negative integer",
                                        text ? text : "?");
            free(text);
            return s;
        }
        t->rank++;
    }
    return VKQ_OK;
}

static vkq_status parse_offsets(const parse_ctx *c, const cJSON *offsets, uint64_t *begin,
                                uint64_t *end)
{
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_whole(offsets->child, begin) || !json_whole(offsets->child->next, end))
        return tensor_error(c, "\"data_offsets\" must be [begin, end], two integers");
    if (*begin > *end)
        return tensor_error(c, "data_offsets [%llu, %llu] end before they begin",
                            (unsigned long long)*begin, (unsigned long long)*end);
    if (*end > c->data_size)
        return tensor_error(c, "data_offsets [%llu, %llu] run past the data section (%llu bytes)",
                            (unsigned long long)*begin, (unsigned long long)*end,
                            (unsigned long long)c->data_size);
    return VKQ_OK;
}

static vkq_status parse_dtype(const parse_ctx *c, const cJSON *dtype, vkq_st_tensor *t)
{
    if (!cJSON_IsString(dtype))
        return tensor_error(c, "\"dtype\" must be a string");
    if (!dtype_from_name(dtype->valuestring, &t->dtype)) {
        char shown[VKQ_ST_SHOWN];
        return tensor_error(c, "unknown dtype \"%s\"", vkq_st_shown(dtype->valuestring, shown));
    }
    return VKQ_OK;
}

/* The three fields, each exactly once, and nothing else. */
static vkq_status entry_fields(const parse_ctx *c, const cJSON *entry, const cJSON *field[3])
{
    static const char *const names[3] = {"dtype", "shape", "data_offsets"};
    if (!cJSON_IsObject(entry))
        return tensor_error(c, "the entry must be an object");
    for (const cJSON *item = entry->child; item; item = item->next) {
        int k = 0;
        while (k < 3 && strcmp(item->string, names[k]) != 0)
            k++;
        char shown[VKQ_ST_SHOWN];
        if (k == 3)
            return tensor_error(c, "unknown field \"%s\"", vkq_st_shown(item->string, shown));
        if (field[k])
            return tensor_error(c, "field \"%s\" appears twice", names[k]);
        field[k] = item;
    }
    for (int k = 0; k < 3; k++)
        if (!field[k])
            return tensor_error(c, "missing field \"%s\"", names[k]);
    return VKQ_OK;
}

static vkq_status parse_entry(const parse_ctx *c, const cJSON *entry, const unsigned char *data,
                              vkq_st_tensor *t)
{
    const cJSON *field[3] = {0};
    VKQ_TRY(entry_fields(c, entry, field));
    VKQ_TRY(parse_dtype(c, field[0], t));
    VKQ_TRY(parse_shape(c, field[1], t));
    uint64_t begin = 0, end = 0;
    VKQ_TRY(parse_offsets(c, field[2], &begin, &end));
    const char *problem = NULL;
    if (vkq_st_element_bytes(t->dtype, t->shape, t->rank, &t->count, &t->size, &problem))
        return tensor_error(c, "%s", problem);
    if (end - begin != t->size)
        return tensor_error(c, "data_offsets [%llu, %llu] hold %llu bytes; dtype %s and its "
                            "shape need %llu", (unsigned long long)begin, (unsigned long long)end,
                            (unsigned long long)(end - begin), dtypes[t->dtype].name,
                            (unsigned long long)t->size);
    t->data = data + begin;
    return VKQ_OK;
}

static vkq_status parse_metadata(const char *path, const cJSON *metadata)
{
    if (!cJSON_IsObject(metadata))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings",
                        path);
    for (const cJSON *item = metadata->child; item; item = item->next)
        if (!cJSON_IsString(item)) {
            char shown[VKQ_ST_SHOWN];
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"__metadata__\" value \"%s\" is not a string",
                            path, vkq_st_shown(item->string, shown));
        }
    return VKQ_OK;
}

static int by_offset(const void *a, const void *b)
{
    const vkq_st_tensor *x = a, *y = b;
    if (x->data != y->data)
        return x->data < y->data ? -1 : 1;
    return x->size < y->size ? -1 : x->size > y->size;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const vkq_st_tensor *const *)a)->name,
                  (*(const vkq_st_tensor *const *)b)->name);
}

/* The tensors, sorted by offset, must tile the data section: no overlap, no gap, no tail. */
static vkq_status check_tiling(const vkq_st_file *f, const unsigned char *data,
                               uint64_t data_size)
{
    uint64_t covered = 0;
    for (size_t i = 0; i < f->count; i++) {
        const vkq_st_tensor *t = &f->tensors[i];
        uint64_t begin = (uint64_t)(t->data - data);
        parse_ctx c = {f->path, t->name, data_size};
        char shown[VKQ_ST_SHOWN];
        if (begin < covered)
            return tensor_error(&c, "its data at byte %llu overlaps tensor \"%s\"",
                                (unsigned long long)begin,
                                vkq_st_shown(f->tensors[i - 1].name, shown));
        if (begin > covered)
            return tensor_error(&c, "its data starts at byte %llu, leaving bytes [%llu, %llu) "
                                "to no tensor", (unsigned long long)begin,
                                (unsigned long long)covered, (unsigned long long)begin);
        covered = begin + t->size;
    }
    if (covered != data_size)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: the tensors cover %llu bytes of a %llu-byte data "
                        "section; the rest belongs to no tensor", f->path,
                        (unsigned long long)covered, (unsigned long long)data_size);
    return VKQ_OK;
}

static vkq_status index_names(vkq_st_file *f)
{
    f->by_name = malloc((f->count ? f->count : 1) * sizeof *f->by_name);
    if (!f->by_name)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot index %zu tensors", f->path,
                        f->count);
    for (size_t i = 0; i < f->count; i++)
        f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, f->count, sizeof *f->by_name, by_name);
    for (size_t i = 1; i < f->count; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            char shown[VKQ_ST_SHOWN];
            return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\" appears twice in the header",
                            f->path, vkq_st_shown(f->by_name[i]->name, shown));
        }
    return VKQ_OK;
}

static vkq_status parse_entries(vkq_st_file *f, const unsigned char *data, uint64_t data_size)
{
    size_t n = (size_t)cJSON_GetArraySize(f->header);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot hold %zu tensors", f->path, n);
    for (const cJSON *item = f->header->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (f->metadata)
                return vkq_fail(VKQ_ERR_FORMAT, "%s: \"__metadata__\" appears twice", f->path);
            VKQ_TRY(parse_metadata(f->path, item));
            f->metadata = item;
            continue;
        }
        vkq_st_tensor *t = &f->tensors[f->count++];
        *t = (vkq_st_tensor){.name = item->string, .file = f->path};
        parse_ctx c = {f->path, item->string, data_size};
        VKQ_TRY(parse_entry(&c, item, data, t));
    }
    qsort(f->tensors, f->count, sizeof *f->tensors, by_offset);
    VKQ_TRY(index_names(f));
    return check_tiling(f, data, data_size);
}

static vkq_status parse_header(vkq_st_file *f, const unsigned char *bytes, size_t size)
{
    if (size < 8)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %zu bytes: too short to hold a safetensors header",
                        f->path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | bytes[i];
    if (n > VKQ_ST_MAX_HEADER_BYTES)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: header length %llu is over the %u-byte limit",
                        f->path, (unsigned long long)n, VKQ_ST_MAX_HEADER_BYTES);
    if (n > size - 8)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: header length %llu runs past the end of the "
                        "%zu-byte file", f->path, (unsigned long long)n, size);
    VKQ_TRY(vkq_json_object_parse(f->path, "the header", (const char *)bytes + 8, n,
                                  &f->header));
    return parse_entries(f, bytes + 8 + n, size - 8 - n);
}

static vkq_status new_file(const char *path, vkq_st_file **out)
{
    *out = calloc(1, sizeof **out);
    if (*out)
        (*out)->path = strdup(path);
    if (!*out || !(*out)->path) {
        vkq_st_close(*out);
        *out = NULL;
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a file", path);
    }
    return VKQ_OK;
}

static vkq_status finish(vkq_status s, vkq_st_file **out)
{
    if (s != VKQ_OK) {
        vkq_st_close(*out);
        *out = NULL;
    }
    return s;
}

vkq_status vkq_st_parse(const char *path, const void *bytes, size_t size, vkq_st_file **out)
{
    VKQ_TRY(new_file(path, out));
    return finish(parse_header(*out, bytes, size), out);
}

vkq_status vkq_st_open(const char *path, vkq_st_file **out)
{
    VKQ_TRY(new_file(path, out));
    vkq_status s = vkq_map_file(path, &(*out)->map);
    if (s == VKQ_OK)
        s = parse_header(*out, (*out)->map.data, (*out)->map.size);
    return finish(s, out);
}

void vkq_st_close(vkq_st_file *f)
{
    if (!f)
        return;
    vkq_unmap_file(&f->map);
    cJSON_Delete(f->header);
    free(f->tensors);
    free(f->by_name);
    free(f->path);
    free(f);
}

char *vkq_st_join(const char *dir, const char *name)
{
    size_t length = strlen(dir) + strlen(name) + 2;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", dir, name);
    return path;
}

size_t vkq_st_count(const vkq_st_file *f) { return f->count; }

const char *vkq_st_path(const vkq_st_file *f) { return f->path; }

const vkq_st_tensor *vkq_st_at(const vkq_st_file *f, size_t index)
{
    return index < f->count ? &f->tensors[index] : NULL;
}

static int name_vs_tensor(const void *key, const void *element)
{
    return strcmp(key, (*(const vkq_st_tensor *const *)element)->name);
}

const vkq_st_tensor *vkq_st_find(const vkq_st_file *f, const char *name)
{
    const vkq_st_tensor *const *found =
        bsearch(name, f->by_name, f->count, sizeof *f->by_name, name_vs_tensor);
    return found ? *found : NULL;
}

const char *vkq_st_metadata(const vkq_st_file *f, const char *key)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(f->metadata, key);
    return value ? value->valuestring : NULL;
}

vkq_dtype vkq_st_device_dtype(vkq_st_dtype dtype)
{
    return dtype == VKQ_ST_BF16 ? VKQ_BF16 : dtype == VKQ_ST_F16 ? VKQ_F16 : VKQ_F32;
}

/* Conversions. Bytes are read and written little-endian one at a time, so neither the host's
 * byte order nor the (unaligned) position of the data matters. */

static float load_element(vkq_st_dtype dtype, const unsigned char *p)
{
    if (dtype == VKQ_ST_F32)
        return vkq_f32_from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                 (uint32_t)p[3] << 24);
    uint16_t half = (uint16_t)(p[0] | p[1] << 8);
    return dtype == VKQ_ST_BF16 ? vkq_bf16_to_f32(half) : vkq_f16_to_f32(half);
}

static void store_element(vkq_st_dtype dtype, float value, unsigned char *p)
{
    uint32_t bits = dtype == VKQ_ST_F32    ? vkq_f32_bits(value)
                    : dtype == VKQ_ST_BF16 ? vkq_f32_to_bf16(value)
                                           : vkq_f32_to_f16(value);
    for (unsigned i = 0; i < dtypes[dtype].bits / 8; i++)
        p[i] = (unsigned char)(bits >> 8 * i);
}

vkq_status vkq_st_to_f32(const vkq_st_tensor *t, uint64_t first, size_t n, float *out)
{
    char shown[VKQ_ST_SHOWN];
    if (!vkq_st_dtype_is_float(t->dtype))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype %s cannot be converted "
                        "to fp32 (F32, F16 and BF16 can)", t->file,
                        vkq_st_shown(t->name, shown), vkq_st_dtype_name(t->dtype));
    if (first > t->count || n > t->count - first)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: tensor \"%s\": elements [%llu, %llu) "
                        "are past its %llu elements", t->file, vkq_st_shown(t->name, shown),
                        (unsigned long long)first, (unsigned long long)(first + n),
                        (unsigned long long)t->count);
    size_t width = dtypes[t->dtype].bits / 8;
    const unsigned char *p = t->data + first * width;
    for (size_t i = 0; i < n; i++)
        out[i] = load_element(t->dtype, p + i * width);
    return VKQ_OK;
}

vkq_status vkq_st_from_f32(vkq_st_dtype dtype, const float *in, size_t n, void *out)
{
    if (!vkq_st_dtype_is_float(dtype))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "dtype %s cannot be written from fp32 "
                        "(F32, F16 and BF16 can)", vkq_st_dtype_name(dtype));
    size_t width = dtypes[dtype].bits / 8;
    for (size_t i = 0; i < n; i++)
        store_element(dtype, in[i], (unsigned char *)out + i * width);
    return VKQ_OK;
}
