/* llama2.c checkpoints (legacy version 0, with vkquill's checksum trailer) into and out of
 * the model description. Sizes use the description's saturating arithmetic, so a corrupt
 * header can never lead to a wrapped-around allocation or read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/mapped.h"
#include "base/status_internal.h"
#include "model/llama_internal.h"
#include "vkquill/llama2c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llama2.c checkpoints are little-endian and are read with memcpy"
#endif

enum { HEADER_FIELDS = 7, HEADER_BYTES = HEADER_FIELDS * 4, VOCAB_FIELD = 5 };

/* What vkquill appends to the llama2.c layout (readers of that layout ignore trailing bytes):
 * this magic, then the XXH64 of every byte before the trailer. */
static const char trailer_magic[8] = {'v', 'k', 'q', 'x', 'x', 'h', '6', '4'};
enum { TRAILER_BYTES = sizeof trailer_magic + 8 };

static const char *const header_names[HEADER_FIELDS] = {
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};

static void header_values(const vkq_llama_config *c, uint32_t v[HEADER_FIELDS])
{
    const uint32_t values[HEADER_FIELDS] = {c->dim,        c->hidden_dim, c->n_layers,
                                            c->n_heads,    c->n_kv_heads, c->vocab_size,
                                            c->seq_len};
    memcpy(v, values, sizeof values);
}

/* Floats in one legacy RoPE table. */
static size_t rope_table_floats(const vkq_llama_config *c)
{
    return vkq_size_mul(c->seq_len, vkq_llama_head_dim(c) / 2);
}

/* Bytes of the whole checkpoint file. */
static size_t checkpoint_bytes(const vkq_llama_config *c, size_t total)
{
    size_t floats = vkq_size_add(total, vkq_size_mul(2, rope_table_floats(c)));
    return vkq_size_add(HEADER_BYTES, vkq_size_mul(sizeof(float), floats));
}

/* What a llama2.c file fixes: everything but the header's sizes and the shared classifier. */
static void llama2c_choices(vkq_llama_config *c)
{
    c->head_dim = c->dim / c->n_heads;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->rope_pairs = VKQ_ROPE_INTERLEAVED;
    c->rope_scaling = (vkq_rope_scaling){0};
    c->qkv_bias = 0;
    c->qk_norm = 0;
    c->bos_id = 1;
    c->pad_id = -1;
    c->eos_ids[0] = 2;
    c->n_eos = 1;
}

/* Writes what a llama2.c file cannot hold of c into msg; returns 0 when it holds all. */
static int unsupported(const vkq_llama_config *c, char *msg, size_t capacity)
{
    if (c->head_dim && c->head_dim * c->n_heads != c->dim)
        return snprintf(msg, capacity, "head_dim %u is not dim / n_heads", c->head_dim);
    if (c->rope_pairs != VKQ_ROPE_INTERLEAVED)
        return snprintf(msg, capacity, "RoPE turns halves, not interleaved pairs");
    if (c->rope_scaling.type != VKQ_ROPE_SCALING_NONE)
        return snprintf(msg, capacity, "RoPE frequencies are scaled");
    if (c->qkv_bias)
        return snprintf(msg, capacity, "q/k/v projections have biases");
    if (c->qk_norm)
        return snprintf(msg, capacity, "queries and keys are normalised");
    return 0;
}

/* ---- reading ---- */

struct vkq_llama2c_file {
    vkq_mapped_file map;
    vkq_llama_config cfg;
    vkq_llama_tensors tensors;
    char *path;     /* for messages */
    int unverified; /* a checksum trailer, not yet checked against the bytes before it */
};

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
    };
    char msg[256];
    if (!c->n_heads || c->dim % c->n_heads) /* the head size is dim / n_heads */
        c->head_dim = 0;
    else
        llama2c_choices(c);
    if (vkq_llama_config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %s", path, msg);
    return VKQ_OK;
}

/* Checks the file's size against its header; *trailer tells whether a checksum trailer
 * follows the arrays. */
static vkq_status check_layout(const char *path, vkq_llama2c_file *f, int *trailer)
{
    size_t file_size = f->map.size;
    if (file_size < HEADER_BYTES)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: not a llama2.c checkpoint: %zu bytes, less than the %d-byte header",
                        path, file_size, HEADER_BYTES);
    int32_t h[HEADER_FIELDS];
    memcpy(h, f->map.data, sizeof h);
    VKQ_TRY(config_from_header(path, h, &f->cfg));
    vkq_llama_tensors_of(&f->cfg, &f->tensors);
    size_t expected = checkpoint_bytes(&f->cfg, f->tensors.total);
    *trailer = file_size == vkq_size_add(expected, TRAILER_BYTES);
    if (file_size < expected)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: header implies %zu bytes, file has %zu",
                        path, expected, file_size);
    if (file_size > expected && file_size < vkq_size_add(expected, TRAILER_BYTES))
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: truncated: header implies %zu bytes and a %d-byte checksum "
                        "trailer, file has %zu",
                        path, expected, TRAILER_BYTES, file_size);
    if (file_size > expected && !*trailer)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: not a llama2.c checkpoint: header implies %zu bytes, file has %zu "
                        "(%zu trailing)",
                        path, expected, file_size, file_size - expected);
    return VKQ_OK;
}

static int has_trailer_magic(const vkq_mapped_file *map)
{
    return memcmp(map->data + map->size - TRAILER_BYTES, trailer_magic,
                  sizeof trailer_magic) == 0;
}

/* Hashes the mapped bytes before the trailer (every page is read once) against its sum. */
static vkq_status check_checksum(const char *path, const vkq_mapped_file *map)
{
    size_t body = map->size - TRAILER_BYTES;
    vkq_checksum sum;
    vkq_checksum_start(&sum);
    vkq_checksum_add(&sum, map->data, body);
    uint64_t stored, computed = vkq_checksum_value(&sum);
    memcpy(&stored, map->data + body + sizeof trailer_magic, sizeof stored);
    if (stored != computed)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checksum mismatch (stored %016llx, computed "
                        "%016llx): the file is damaged", path, (unsigned long long)stored,
                        (unsigned long long)computed);
    return VKQ_OK;
}

/* The floats of the block sit after the header in table order, except that an unshared
 * classifier follows the two legacy RoPE tables. */
static vkq_status read_tensor(void *user, vkq_tensor_id id, size_t first, size_t n, float *out)
{
    vkq_llama2c_file *f = user;
    if (f->unverified) {
        VKQ_TRY(check_checksum(f->path, &f->map));
        f->unverified = 0;
    }
    size_t at = f->tensors.t[id].offset + first;
    if (id == VKQ_WCLS)
        at += 2 * rope_table_floats(&f->cfg);
    memcpy(out, f->map.data + HEADER_BYTES + at * sizeof *out, n * sizeof *out);
    return VKQ_OK;
}

vkq_status vkq_llama2c_open(const char *path, vkq_llama2c_file **out)
{
    *out = NULL;
    vkq_llama2c_file *f = calloc(1, sizeof *f);
    if (!f)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int trailer = 0;
    vkq_status s = vkq_map_file(path, &f->map);
    if (s == VKQ_OK)
        s = check_layout(path, f, &trailer);
    if (s == VKQ_OK && trailer && !has_trailer_magic(&f->map))
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %d trailing bytes that are "
                     "no vkquill checksum trailer", path, TRAILER_BYTES);
    if (s == VKQ_OK && trailer && !(f->path = strdup(path)))
        s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    f->unverified = trailer;
    if (s != VKQ_OK) {
        vkq_llama2c_close(f);
        return s;
    }
    *out = f;
    return VKQ_OK;
}

void vkq_llama2c_close(vkq_llama2c_file *f)
{
    if (!f)
        return;
    vkq_unmap_file(&f->map);
    free(f->path);
    free(f);
}

const vkq_llama_config *vkq_llama2c_config(const vkq_llama2c_file *f) { return &f->cfg; }

vkq_tensor_source vkq_llama2c_weights(vkq_llama2c_file *f)
{
    return (vkq_tensor_source){read_tensor, f};
}

vkq_status vkq_llama2c_read(const char *path, vkq_llama_config *cfg, float **params)
{
    if (!path || !cfg || !params)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama2c_read: NULL argument");
    *params = NULL;
    vkq_llama2c_file *f;
    VKQ_TRY(vkq_llama2c_open(path, &f));
    vkq_tensor_source src = vkq_llama2c_weights(f);
    *cfg = f->cfg;
    vkq_status s = vkq_tensor_source_read_all(cfg, &src, params);
    vkq_llama2c_close(f);
    return s;
}

/* ---- writing ---- */

/* A file being written, and the checksum of the bytes written so far. */
typedef struct writer {
    const char *path;
    FILE *f;
    vkq_checksum sum;
} writer;

static vkq_status write_floats(writer *w, const float *src, size_t n)
{
    return vkq_write_summed(w->path, w->f, src, sizeof *src, n, &w->sum);
}

/* The legacy tables llama2.c's export stored: fn(pos * theta^(-2i/head_size)). */
static vkq_status write_rope_table(writer *w, const vkq_llama_config *c, double (*fn)(double))
{
    uint32_t half = vkq_llama_head_dim(c) / 2;
    float *row = malloc(half * sizeof *row);
    if (!row)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a RoPE table row", w->path);
    vkq_status status = VKQ_OK;
    for (uint32_t pos = 0; pos < c->seq_len && status == VKQ_OK; pos++) {
        for (uint32_t i = 0; i < half; i++)
            row[i] = (float)fn(pos * pow(c->rope_theta, -(double)i / half));
        status = write_floats(w, row, half);
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
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    size_t wcls = ts.t[VKQ_WCLS].offset;
    uint32_t v[HEADER_FIELDS];
    header_values(c, v);
    int32_t h[HEADER_FIELDS];
    for (int i = 0; i < HEADER_FIELDS; i++)
        h[i] = (int32_t)v[i];
    if (!c->shared_classifier)
        h[VOCAB_FIELD] = -h[VOCAB_FIELD];
    size_t before_rope = c->shared_classifier ? ts.total : wcls;
    writer w = {.path = path, .f = f};
    vkq_checksum_start(&w.sum);
    VKQ_TRY(vkq_write_summed(path, f, h, sizeof h, 1, &w.sum));
    VKQ_TRY(write_floats(&w, params, before_rope));
    VKQ_TRY(write_rope_table(&w, c, cos));
    VKQ_TRY(write_rope_table(&w, c, sin));
    VKQ_TRY(write_floats(&w, params + before_rope, ts.total - before_rope));
    uint64_t sum = vkq_checksum_value(&w.sum);
    VKQ_TRY(vkq_write_bytes(path, f, trailer_magic, 1, sizeof trailer_magic));
    return vkq_write_bytes(path, f, &sum, sizeof sum, 1);
}

vkq_status vkq_llama2c_write(const char *path, const vkq_llama_config *cfg, const float *params)
{
    if (!path || !cfg || !params)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama2c_write: NULL argument");
    char msg[256];
    if (vkq_llama_config_problem(cfg, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: cannot write an invalid config: %s", path,
                        msg);
    if (unsupported(cfg, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: a llama2.c checkpoint cannot hold this model: "
                        "%s", path, msg);
    checkpoint_contents contents = {cfg, params};
    return vkq_write_atomic(path, write_checkpoint, &contents);
}
