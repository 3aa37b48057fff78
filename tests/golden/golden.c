/* Reader for the VKQG golden files (format in golden.h). Every field is decoded byte by byte
 * as little-endian, so the reader works on any host and never reads unaligned data. */
#include "golden.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"

static const char magic[4] = {'V', 'K', 'Q', 'G'};

/* A read position in the file, and the words error messages use for it. */
typedef struct cursor {
    const unsigned char *bytes;
    size_t size, at;
    const char *what;   /* the file */
    char where[320];    /* "header" or "record 3 (\"logits\")" */
} cursor;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static vkq_status need(const cursor *c, size_t n, const char *field)
{
    if (c->size - c->at >= n)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_FORMAT,
                    "%s: truncated golden file: %s of %s needs %zu bytes at offset %zu, "
                    "only %zu remain",
                    c->what, field, c->where, n, c->at, c->size - c->at);
}

static vkq_status read_u32(cursor *c, const char *field, uint32_t *out)
{
    VKQ_TRY(need(c, 4, field));
    *out = le32(c->bytes + c->at);
    c->at += 4;
    return VKQ_OK;
}

static vkq_status read_record(cursor *c, const vkq_golden *g, uint32_t index,
                              vkq_golden_record *r)
{
    snprintf(c->where, sizeof c->where, "record %u", (unsigned)index);

    uint32_t name_len;
    VKQ_TRY(read_u32(c, "the name length", &name_len));
    if (name_len == 0 || name_len > VKQ_GOLDEN_MAX_NAME)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s has a name length of %u (1..%d allowed)",
                        c->what, c->where, (unsigned)name_len, VKQ_GOLDEN_MAX_NAME);
    VKQ_TRY(need(c, name_len, "the name"));
    for (uint32_t i = 0; i < name_len; i++) {
        unsigned char ch = c->bytes[c->at + i];
        if (ch < 0x21 || ch > 0x7e)
            return vkq_fail(VKQ_ERR_FORMAT,
                            "%s: %s has a name with byte 0x%02x at offset %zu (printable "
                            "ASCII expected)", c->what, c->where, ch, c->at + i);
    }
    memcpy(r->name, c->bytes + c->at, name_len);
    r->name[name_len] = '\0';
    c->at += name_len;
    snprintf(c->where, sizeof c->where, "record %u (\"%s\")", (unsigned)index, r->name);
    for (uint32_t i = 0; i < index; i++)
        if (strcmp(g->records[i].name, r->name) == 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: %s repeats the name of record %u", c->what,
                            c->where, (unsigned)i);

    uint32_t dtype;
    VKQ_TRY(read_u32(c, "the dtype", &dtype));
    if (dtype != VKQ_GOLDEN_F32 && dtype != VKQ_GOLDEN_I32)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s has dtype %u (0 = float32, 1 = int32)",
                        c->what, c->where, (unsigned)dtype);
    r->dtype = (vkq_golden_dtype)dtype;

    VKQ_TRY(read_u32(c, "the number of dimensions", &r->ndim));
    if (r->ndim > VKQ_GOLDEN_MAX_DIMS)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s has %u dimensions (at most %d)", c->what,
                        c->where, (unsigned)r->ndim, VKQ_GOLDEN_MAX_DIMS);
    for (uint32_t d = 0; d < r->ndim; d++)
        VKQ_TRY(read_u32(c, "a dimension", &r->dims[d]));
    /* The element count, checked against what is left of the file as it grows, so that a
     * corrupt shape can neither overflow size_t nor ask for a huge allocation. */
    size_t remaining_elems = (c->size - c->at) / 4;
    int too_big = 0;
    r->count = 1;
    for (uint32_t d = 0; d < r->ndim; d++) {
        if (r->dims[d] == 0) {
            r->count = 0;
            too_big = 0;
            break;
        }
        if (r->count > remaining_elems / r->dims[d])
            too_big = 1;
        else
            r->count *= r->dims[d];
    }
    if (too_big)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: truncated golden file: the shape of %s describes more data than "
                        "the %zu bytes left after offset %zu",
                        c->what, c->where, c->size - c->at, c->at);
    VKQ_TRY(need(c, r->count * 4, "the data"));
    r->data.raw = malloc(r->count ? r->count * 4 : 1);
    if (!r->data.raw)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: no memory for %s", c->what, c->where);
    for (size_t i = 0; i < r->count; i++) {
        uint32_t word = le32(c->bytes + c->at + 4 * i);
        if (r->dtype == VKQ_GOLDEN_F32) {
            float f; /* the float with these bits */
            memcpy(&f, &word, 4);
            r->data.f32[i] = f;
        } else {
            int32_t v;
            memcpy(&v, &word, 4);
            r->data.i32[i] = v;
        }
    }
    c->at += r->count * 4;
    return VKQ_OK;
}

static vkq_status parse(cursor *c, vkq_golden *g)
{
    snprintf(c->where, sizeof c->where, "the header");
    VKQ_TRY(need(c, sizeof magic, "the magic"));
    if (memcmp(c->bytes, magic, sizeof magic) != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a golden file (it does not start with VKQG)",
                        c->what);
    c->at = sizeof magic;
    VKQ_TRY(read_u32(c, "the version", &g->version));
    if (g->version != 1)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: golden file version %u (this reader knows 1)",
                        c->what, (unsigned)g->version);
    uint32_t n;
    VKQ_TRY(read_u32(c, "the record count", &n));
    /* every record takes at least 13 bytes (name length, a 1-byte name, dtype, ndim) */
    if (n > (c->size - c->at) / 13)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated golden file: %u records cannot fit "
                        "in the %zu bytes after the header", c->what, (unsigned)n,
                        c->size - c->at);
    g->records = calloc(n ? n : 1, sizeof *g->records);
    if (!g->records)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: no memory for %u records", c->what,
                        (unsigned)n);
    for (uint32_t i = 0; i < n; i++) {
        g->n_records = i + 1; /* so that vkq_golden_free releases what was read */
        VKQ_TRY(read_record(c, g, i, &g->records[i]));
    }
    g->n_records = n;
    if (c->at != c->size)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %zu unexpected bytes after the last record "
                        "(offset %zu)", c->what, c->size - c->at, c->at);
    return VKQ_OK;
}

vkq_status vkq_golden_parse(const void *bytes, size_t size, const char *what, vkq_golden *out)
{
    memset(out, 0, sizeof *out);
    if (!bytes && size)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_golden_parse: NULL bytes");
    cursor c = {.bytes = bytes, .size = size, .at = 0, .what = what ? what : "golden data"};
    vkq_status s = parse(&c, out);
    if (s != VKQ_OK)
        vkq_golden_free(out);
    return s;
}

vkq_status vkq_golden_load(const char *path, vkq_golden *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "cannot open golden file %s: %s", path, strerror(errno));
    unsigned char *bytes = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            size_t new_cap = cap ? 2 * cap : 1 << 16;
            unsigned char *grown = realloc(bytes, new_cap);
            if (!grown) {
                free(bytes);
                fclose(f);
                return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "no memory to read %s", path);
            }
            bytes = grown;
            cap = new_cap;
        }
        size_t got = fread(bytes + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(bytes);
        return vkq_fail(VKQ_ERR_IO, "error reading golden file %s", path);
    }
    vkq_status s = vkq_golden_parse(bytes, size, path, out);
    free(bytes);
    return s;
}

void vkq_golden_free(vkq_golden *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; g->records && i < g->n_records; i++)
        free(g->records[i].data.raw);
    free(g->records);
    memset(g, 0, sizeof *g);
}

const vkq_golden_record *vkq_golden_find(const vkq_golden *g, const char *name)
{
    for (uint32_t i = 0; i < g->n_records; i++)
        if (strcmp(g->records[i].name, name) == 0)
            return &g->records[i];
    return NULL;
}

static const char *dtype_name(vkq_golden_dtype t)
{
    return t == VKQ_GOLDEN_F32 ? "float32" : "int32";
}

/* "[19, 64]" into buf; VKQ_GOLDEN_ANY prints as "*". */
static const char *shape_text(char *buf, size_t size, uint32_t ndim, const uint32_t *dims)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (uint32_t d = 0; d < ndim && used < size; d++)
        used += (size_t)(dims[d] == VKQ_GOLDEN_ANY
                             ? snprintf(buf + used, size - used, "%s*", d ? ", " : "")
                             : snprintf(buf + used, size - used, "%s%u", d ? ", " : "",
                                        (unsigned)dims[d]));
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

vkq_status vkq_golden_get(const vkq_golden *g, const char *name, vkq_golden_dtype dtype,
                          uint32_t ndim, const uint32_t *dims, const vkq_golden_record **out)
{
    *out = NULL;
    const vkq_golden_record *r = vkq_golden_find(g, name);
    if (!r)
        return vkq_fail(VKQ_ERR_FORMAT, "golden file has no record \"%s\"", name);
    int same = r->dtype == dtype && r->ndim == ndim;
    for (uint32_t d = 0; same && d < ndim; d++)
        same = dims[d] == VKQ_GOLDEN_ANY || dims[d] == r->dims[d];
    if (!same) {
        char have[128], want[128];
        return vkq_fail(VKQ_ERR_FORMAT, "golden record \"%s\" is %s %s, expected %s %s", name,
                        dtype_name(r->dtype), shape_text(have, sizeof have, r->ndim, r->dims),
                        dtype_name(dtype), shape_text(want, sizeof want, ndim, dims));
    }
    *out = r;
    return VKQ_OK;
}

static vkq_status get_count(const vkq_golden *g, const char *name, vkq_golden_dtype dtype,
                            size_t count, const vkq_golden_record **out)
{
    *out = NULL;
    const vkq_golden_record *r = vkq_golden_find(g, name);
    if (!r)
        return vkq_fail(VKQ_ERR_FORMAT, "golden file has no record \"%s\"", name);
    if (r->dtype != dtype || r->count != count)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "golden record \"%s\" holds %zu %s values, expected %zu %s", name,
                        r->count, dtype_name(r->dtype), count, dtype_name(dtype));
    *out = r;
    return VKQ_OK;
}

vkq_status vkq_golden_f32(const vkq_golden *g, const char *name, size_t count,
                          const float **out)
{
    const vkq_golden_record *r;
    *out = NULL;
    VKQ_TRY(get_count(g, name, VKQ_GOLDEN_F32, count, &r));
    *out = r->data.f32;
    return VKQ_OK;
}

vkq_status vkq_golden_i32(const vkq_golden *g, const char *name, size_t count,
                          const int32_t **out)
{
    const vkq_golden_record *r;
    *out = NULL;
    VKQ_TRY(get_count(g, name, VKQ_GOLDEN_I32, count, &r));
    *out = r->data.i32;
    return VKQ_OK;
}
