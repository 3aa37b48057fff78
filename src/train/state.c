/* Training checkpoints: parameters, AdamW moments, step and data position in one file,
 * written atomically. Layout (little-endian): "VKQTRAIN", uint32 version 1, uint32 step,
 * epoch, position, uint64 parameter count P, then float32 params[P], m[P], v[P]. */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "train/train_internal.h"

static const char magic[8] = {'V', 'K', 'Q', 'T', 'R', 'A', 'I', 'N'};
enum { VERSION = 1, HEADER_BYTES = 8 + 4 * 4 + 8 };

typedef struct state_contents {
    const train_state *st;
    const float *arrays[3];
} state_contents;

static vkq_status write_state(const char *path, FILE *f, void *user)
{
    const state_contents *c = user;
    uint32_t words[4] = {VERSION, c->st->step, c->st->epoch, c->st->position};
    VKQ_TRY(vkq_write_bytes(path, f, magic, 1, sizeof magic));
    VKQ_TRY(vkq_write_bytes(path, f, words, sizeof words, 1));
    VKQ_TRY(vkq_write_bytes(path, f, &c->st->parameters, sizeof c->st->parameters, 1));
    for (int i = 0; i < 3; i++)
        VKQ_TRY(vkq_write_bytes(path, f, c->arrays[i], sizeof(float), c->st->parameters));
    return VKQ_OK;
}

vkq_status train_checkpoint_save(const char *path, const train_state *st, const float *params,
                                 const float *m, const float *v)
{
    state_contents c = {st, {params, m, v}};
    return vkq_write_atomic(path, write_state, &c);
}

static vkq_status read_header(const char *path, FILE *f, uint64_t parameters, train_state *st)
{
    char got[8];
    uint32_t words[4];
    if (fread(got, 1, sizeof got, f) != sizeof got || memcmp(got, magic, sizeof magic) != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a vkquill training checkpoint", path);
    if (fread(words, sizeof words, 1, f) != 1 || fread(&st->parameters, 8, 1, f) != 1)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated checkpoint header", path);
    if (words[0] != VERSION)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checkpoint version %u is not %u", path, words[0],
                        VERSION);
    if (st->parameters != parameters)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checkpoint holds %llu parameters, the model has %llu",
                        path, (unsigned long long)st->parameters,
                        (unsigned long long)parameters);
    st->step = words[1];
    st->epoch = words[2];
    st->position = words[3];
    return VKQ_OK;
}

static vkq_status read_arrays(const char *path, FILE *f, uint64_t n, float **out[3])
{
    if (fseek(f, 0, SEEK_END) != 0 || ftell(f) != (long)(HEADER_BYTES + 3 * 4 * n) ||
        fseek(f, HEADER_BYTES, SEEK_SET) != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checkpoint size does not match its header "
                        "(truncated or damaged)", path);
    for (int i = 0; i < 3; i++) {
        *out[i] = malloc(n * sizeof(float));
        if (!*out[i])
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory reading %s", path);
        if (fread(*out[i], sizeof(float), n, f) != n)
            return vkq_fail(VKQ_ERR_IO, "%s: read failed", path);
    }
    return VKQ_OK;
}

vkq_status train_checkpoint_load(const char *path, uint64_t parameters, train_state *st,
                                 float **params, float **m, float **v)
{
    *params = *m = *v = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open the checkpoint to resume from", path);
    float **arrays[3] = {params, m, v};
    vkq_status s = read_header(path, f, parameters, st);
    if (s == VKQ_OK)
        s = read_arrays(path, f, parameters, arrays);
    fclose(f);
    if (s != VKQ_OK)
        for (int i = 0; i < 3; i++) {
            free(*arrays[i]);
            *arrays[i] = NULL;
        }
    return s;
}
