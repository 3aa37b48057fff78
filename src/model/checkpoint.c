/* Llama config checks, the flat parameter layout, and llama2.c checkpoints (legacy version 0).
 * Sizes are computed with saturating arithmetic: SIZE_MAX means "overflowed", so a corrupt
 * header can never lead to a wrapped-around allocation or read. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "vkquill/llama.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llama2.c checkpoints are little-endian and are read with fread"
#endif

enum { HEADER_FIELDS = 7, HEADER_BYTES = HEADER_FIELDS * 4, VOCAB_FIELD = 5 };

static const char *const header_names[HEADER_FIELDS] = {
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};

/* Far above any Llama model, far below where sizes could overflow 64-bit arithmetic. */
static const uint32_t header_limits[HEADER_FIELDS] = {
    1u << 16, 1u << 18, 1u << 10, 1u << 10, 1u << 10, 1u << 21, 1u << 20};

static size_t mul(size_t a, size_t b) { return a != 0 && b > SIZE_MAX / a ? SIZE_MAX : a * b; }
static size_t add(size_t a, size_t b) { return b > SIZE_MAX - a ? SIZE_MAX : a + b; }

/* Returns the offset of an array of `count` floats placed at *at and moves *at past it. */
static size_t place(size_t *at, size_t count)
{
    size_t offset = *at;
    *at = add(*at, count);
    return offset;
}

static void header_values(const vkq_llama_config *c, uint32_t v[HEADER_FIELDS])
{
    const uint32_t values[HEADER_FIELDS] = {c->dim,        c->hidden_dim, c->n_layers,
                                            c->n_heads,    c->n_kv_heads, c->vocab_size,
                                            c->seq_len};
    memcpy(v, values, sizeof values);
}

static size_t layout_saturating(const vkq_llama_config *c, vkq_llama_layout *o)
{
    size_t d = c->dim, h = c->hidden_dim, l = c->n_layers, v = c->vocab_size;
    size_t kv_dim = mul(c->n_kv_heads, d / c->n_heads);
    size_t at = 0;
    o->tok_emb = place(&at, mul(v, d));
    o->rms_att = place(&at, mul(l, d));
    o->wq = place(&at, mul(l, mul(d, d)));
    o->wk = place(&at, mul(l, mul(kv_dim, d)));
    o->wv = place(&at, mul(l, mul(kv_dim, d)));
    o->wo = place(&at, mul(l, mul(d, d)));
    o->rms_ffn = place(&at, mul(l, d));
    o->w1 = place(&at, mul(l, mul(h, d)));
    o->w2 = place(&at, mul(l, mul(d, h)));
    o->w3 = place(&at, mul(l, mul(h, d)));
    o->rms_final = place(&at, d);
    o->wcls = c->shared_classifier ? o->tok_emb : place(&at, mul(v, d));
    o->total = at;
    return at;
}

/* Floats in one legacy RoPE table. */
static size_t rope_table_floats(const vkq_llama_config *c)
{
    return mul(c->seq_len, c->dim / c->n_heads / 2);
}

/* Bytes of the whole checkpoint file. */
static size_t checkpoint_bytes(const vkq_llama_config *c, const vkq_llama_layout *layout)
{
    size_t floats = add(layout->total, mul(2, rope_table_floats(c)));
    return add(HEADER_BYTES, mul(sizeof(float), floats));
}

/* Writes what is wrong with c into msg; returns 0 when nothing is. */
static int config_problem(const vkq_llama_config *c, char *msg, size_t capacity)
{
    uint32_t v[HEADER_FIELDS];
    header_values(c, v);
    for (int i = 0; i < HEADER_FIELDS; i++)
        if (v[i] == 0 || v[i] > header_limits[i])
            return snprintf(msg, capacity, "%s %u is outside 1..%u", header_names[i], v[i],
                            header_limits[i]);
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        return snprintf(msg, capacity, "n_heads %u does not divide dim %u into an even head size",
                        c->n_heads, c->dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return snprintf(msg, capacity, "n_kv_heads %u does not divide n_heads %u",
                        c->n_kv_heads, c->n_heads);
    if (!(c->norm_eps > 0.0f) || !isfinite(c->norm_eps))
        return snprintf(msg, capacity, "norm_eps %g is not a positive number", c->norm_eps);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return snprintf(msg, capacity, "rope_theta %g is not a positive number", c->rope_theta);
    vkq_llama_layout layout;
    layout_saturating(c, &layout);
    if (checkpoint_bytes(c, &layout) == SIZE_MAX)
        return snprintf(msg, capacity, "the parameters do not fit in memory");
    return 0;
}

vkq_status vkq_llama_config_check(const vkq_llama_config *c)
{
    char msg[256];
    if (!c)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama_config_check: NULL config");
    if (config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "invalid Llama config: %s", msg);
    return VKQ_OK;
}

void vkq_llama_layout_of(const vkq_llama_config *c, vkq_llama_layout *out)
{
    layout_saturating(c, out);
}

/* ---- reading ---- */

static vkq_status config_from_header(const char *path, const int32_t h[HEADER_FIELDS],
                                     vkq_llama_config *c)
{
    for (int i = 0; i < HEADER_FIELDS; i++)
        if (h[i] == 0 || (h[i] < 0 && i != VOCAB_FIELD))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %s is %d", path,
                            header_names[i], (int)h[i]);
    /* unsigned negation: -INT32_MIN does not fit an int32 */
    uint32_t vocab = h[VOCAB_FIELD] < 0 ? 0u - (uint32_t)h[VOCAB_FIELD] : (uint32_t)h[VOCAB_FIELD];
    *c = (vkq_llama_config){
        .dim = (uint32_t)h[0],
        .hidden_dim = (uint32_t)h[1],
        .n_layers = (uint32_t)h[2],
        .n_heads = (uint32_t)h[3],
        .n_kv_heads = (uint32_t)h[4],
        .vocab_size = vocab,
        .seq_len = (uint32_t)h[6],
        .shared_classifier = h[VOCAB_FIELD] > 0,
        .norm_eps = 1e-5f,
        .rope_theta = 10000.0f,
    };
    char msg[256];
    if (config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %s", path, msg);
    return VKQ_OK;
}

static vkq_status regular_file_size(const char *path, FILE *f, size_t *size)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vkq_fail(VKQ_ERR_IO, "%s: not a regular file", path);
    *size = (unsigned long long)st.st_size > SIZE_MAX ? SIZE_MAX : (size_t)st.st_size;
    return VKQ_OK;
}

static vkq_status read_floats(const char *path, FILE *f, float *dst, size_t n)
{
    if (fread(dst, sizeof *dst, n, f) != n)
        return vkq_fail(VKQ_ERR_IO, "%s: read failed: %s", path,
                        ferror(f) ? strerror(errno) : "the file shrank while being read");
    return VKQ_OK;
}

static vkq_status read_header(const char *path, FILE *f, vkq_llama_config *cfg,
                              vkq_llama_layout *layout)
{
    size_t file_size = 0;
    VKQ_TRY(regular_file_size(path, f, &file_size));
    if (file_size < HEADER_BYTES)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: not a llama2.c checkpoint: %zu bytes, less than the %d-byte header",
                        path, file_size, HEADER_BYTES);
    int32_t h[HEADER_FIELDS];
    if (fread(h, sizeof h, 1, f) != 1)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot read the header", path);
    VKQ_TRY(config_from_header(path, h, cfg));
    vkq_llama_layout_of(cfg, layout);
    size_t expected = checkpoint_bytes(cfg, layout);
    if (file_size < expected)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: header implies %zu bytes, file has %zu",
                        path, expected, file_size);
    if (file_size > expected)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: not a llama2.c checkpoint: header implies %zu bytes, file has %zu "
                        "(%zu trailing)",
                        path, expected, file_size, file_size - expected);
    return VKQ_OK;
}

static vkq_status read_params(const char *path, FILE *f, const vkq_llama_config *cfg,
                              const vkq_llama_layout *layout, float *params)
{
    size_t before_rope = cfg->shared_classifier ? layout->total : layout->wcls;
    VKQ_TRY(read_floats(path, f, params, before_rope));
    if (cfg->shared_classifier)
        return VKQ_OK;
    if (fseeko(f, (off_t)(2 * rope_table_floats(cfg) * sizeof(float)), SEEK_CUR) != 0)
        return vkq_fail(VKQ_ERR_IO, "%s: seek failed: %s", path, strerror(errno));
    return read_floats(path, f, params + layout->wcls, layout->total - layout->wcls);
}

static vkq_status read_checkpoint(const char *path, FILE *f, vkq_llama_config *cfg,
                                  float **params)
{
    vkq_llama_layout layout;
    VKQ_TRY(read_header(path, f, cfg, &layout));
    float *p = malloc(layout.total * sizeof *p);
    if (!p)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of parameters",
                        path, layout.total * sizeof *p);
    vkq_status status = read_params(path, f, cfg, &layout, p);
    if (status != VKQ_OK) {
        free(p);
        return status;
    }
    *params = p;
    return VKQ_OK;
}

vkq_status vkq_llama2c_read(const char *path, vkq_llama_config *cfg, float **params)
{
    if (!path || !cfg || !params)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama2c_read: NULL argument");
    *params = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    vkq_status status = read_checkpoint(path, f, cfg, params);
    fclose(f);
    return status;
}

/* ---- writing ---- */

/* The legacy tables llama2.c's export stored: fn(pos * theta^(-2i/head_size)). */
static vkq_status write_rope_table(const char *path, FILE *f, const vkq_llama_config *c,
                                   double (*fn)(double))
{
    uint32_t half = c->dim / c->n_heads / 2;
    float *row = malloc(half * sizeof *row);
    if (!row)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a RoPE table row", path);
    vkq_status status = VKQ_OK;
    for (uint32_t pos = 0; pos < c->seq_len && status == VKQ_OK; pos++) {
        for (uint32_t i = 0; i < half; i++)
            row[i] = (float)fn(pos * pow(c->rope_theta, -(double)i / half));
        status = vkq_write_bytes(path, f, row, sizeof *row, half);
    }
    free(row);
    return status;
}

typedef struct checkpoint_contents {
    const vkq_llama_config *cfg;
    const float *params;
} checkpoint_contents;

static vkq_status write_checkpoint(const char *path, FILE *f, void *user)
{
    const checkpoint_contents *contents = user;
    const vkq_llama_config *c = contents->cfg;
    const float *params = contents->params;
    vkq_llama_layout layout;
    vkq_llama_layout_of(c, &layout);
    uint32_t v[HEADER_FIELDS];
    header_values(c, v);
    int32_t h[HEADER_FIELDS];
    for (int i = 0; i < HEADER_FIELDS; i++)
        h[i] = (int32_t)v[i];
    if (!c->shared_classifier)
        h[VOCAB_FIELD] = -h[VOCAB_FIELD];
    size_t before_rope = c->shared_classifier ? layout.total : layout.wcls;
    VKQ_TRY(vkq_write_bytes(path, f, h, sizeof h, 1));
    VKQ_TRY(vkq_write_bytes(path, f, params, sizeof *params, before_rope));
    VKQ_TRY(write_rope_table(path, f, c, cos));
    VKQ_TRY(write_rope_table(path, f, c, sin));
    if (!c->shared_classifier)
        VKQ_TRY(vkq_write_bytes(path, f, params + layout.wcls, sizeof *params,
                            layout.total - layout.wcls));
    return VKQ_OK;
}

vkq_status vkq_llama2c_write(const char *path, const vkq_llama_config *cfg, const float *params)
{
    if (!path || !cfg || !params)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama2c_write: NULL argument");
    char msg[256];
    if (config_problem(cfg, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: cannot write an invalid config: %s", path,
                        msg);
    checkpoint_contents contents = {cfg, params};
    return vkq_write_atomic(path, write_checkpoint, &contents);
}
