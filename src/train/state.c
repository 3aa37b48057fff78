/* Training checkpoints: parameters, AdamW moments, step and data position in one file,
 * written atomically. Layout (little-endian): "VKQTRAIN", uint32 version 4, step, epoch,
 * position, data_count, ranks (the processes that trained it), uint64 data_hash, uint64
 * parameter count P, uint64 XXH64 of the
 * header so far; then float32 params[P], m[P], v[P]; then the XXH64 of every byte before it. */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "train/train_internal.h"

static const char magic[8] = {'V', 'K', 'Q', 'T', 'R', 'A', 'I', 'N'};
enum { VERSION = 4, WORDS = 6, HEADER_BYTES = 8 + WORDS * 4 + 3 * 8 };

/* The header's fields in file order. */
typedef struct header {
    char magic[8];
    uint32_t words[WORDS]; /* version, step, epoch, position, data_count, ranks */
    uint64_t data_hash, parameters;
} header;

static void header_of(const train_state *st, header *h)
{
    *h = (header){.words = {VERSION, st->step, st->epoch, st->position, st->data_count,
                            st->ranks},
                  .data_hash = st->data_hash, .parameters = st->parameters};
    memcpy(h->magic, magic, sizeof magic);
}

static vkq_status write_header(const char *path, FILE *f, const header *h, vkq_checksum *sum)
{
    VKQ_TRY(vkq_write_summed(path, f, h->magic, 1, sizeof h->magic, sum));
    VKQ_TRY(vkq_write_summed(path, f, h->words, sizeof h->words, 1, sum));
    VKQ_TRY(vkq_write_summed(path, f, &h->data_hash, sizeof h->data_hash, 1, sum));
    VKQ_TRY(vkq_write_summed(path, f, &h->parameters, sizeof h->parameters, 1, sum));
    uint64_t header_sum = vkq_checksum_value(sum);
    return vkq_write_summed(path, f, &header_sum, sizeof header_sum, 1, sum);
}

typedef struct state_contents {
    const train_state *st;
    const float *arrays[3];
} state_contents;

static vkq_status write_state(const char *path, FILE *f, void *user)
{
    const state_contents *c = user;
    header h;
    header_of(c->st, &h);
    vkq_checksum sum;
    vkq_checksum_start(&sum);
    VKQ_TRY(write_header(path, f, &h, &sum));
    for (int i = 0; i < 3; i++)
        VKQ_TRY(vkq_write_summed(path, f, c->arrays[i], sizeof(float), c->st->parameters, &sum));
    uint64_t file_sum = vkq_checksum_value(&sum);
    return vkq_write_bytes(path, f, &file_sum, sizeof file_sum, 1);
}

vkq_status train_checkpoint_save(const char *path, const train_state *st, const float *params,
                                 const float *m, const float *v)
{
    state_contents c = {st, {params, m, v}};
    return vkq_write_atomic(path, write_state, &c);
}

static vkq_status damaged(const char *path, const char *what)
{
    return vkq_fail(VKQ_ERR_FORMAT, "%s: the checkpoint is damaged (%s); resume from a good "
                    "copy or train again", path, what);
}

static vkq_status read_header(const char *path, FILE *f, uint64_t parameters, train_state *st,
                              vkq_checksum *sum)
{
    header h;
    uint64_t stored;
    if (fread(h.magic, 1, sizeof h.magic, f) != sizeof h.magic ||
        memcmp(h.magic, magic, sizeof magic) != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a vkquill training checkpoint", path);
    if (fread(h.words, sizeof h.words, 1, f) != 1 || fread(&h.data_hash, 8, 1, f) != 1 ||
        fread(&h.parameters, 8, 1, f) != 1 || fread(&stored, 8, 1, f) != 1)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated checkpoint header", path);
    if (h.words[0] != VERSION)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checkpoint version %u is not %u (an older vkquill "
                        "wrote it: train again)", path, h.words[0], VERSION);
    vkq_checksum_add(sum, h.magic, sizeof h.magic);
    vkq_checksum_add(sum, h.words, sizeof h.words);
    vkq_checksum_add(sum, &h.data_hash, 8);
    vkq_checksum_add(sum, &h.parameters, 8);
    if (stored != vkq_checksum_value(sum))
        return damaged(path, "header checksum mismatch");
    vkq_checksum_add(sum, &stored, 8);
    if (h.parameters != parameters)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: checkpoint holds %llu parameters, the model has %llu",
                        path, (unsigned long long)h.parameters,
                        (unsigned long long)parameters);
    *st = (train_state){.step = h.words[1], .epoch = h.words[2], .position = h.words[3],
                        .data_count = h.words[4], .ranks = h.words[5], .data_hash = h.data_hash,
                        .parameters = h.parameters};
    if (st->position > st->data_count)
        return damaged(path, "its data position is beyond its data");
    return VKQ_OK;
}

static vkq_status read_arrays(const char *path, FILE *f, uint64_t n, float **out[3],
                              vkq_checksum *sum)
{
    if (fseek(f, 0, SEEK_END) != 0 || ftell(f) != (long)(HEADER_BYTES + 3 * 4 * n + 8) ||
        fseek(f, HEADER_BYTES, SEEK_SET) != 0)
        return damaged(path, "its size does not match its header");
    for (int i = 0; i < 3; i++) {
        *out[i] = malloc(n * sizeof(float));
        if (!*out[i])
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory reading %s", path);
        VKQ_TRY(vkq_read_summed(path, f, *out[i], sizeof(float), n, sum));
    }
    uint64_t stored;
    if (fread(&stored, sizeof stored, 1, f) != 1)
        return vkq_fail(VKQ_ERR_IO, "%s: read failed", path);
    return stored == vkq_checksum_value(sum) ? VKQ_OK : damaged(path, "checksum mismatch");
}

vkq_status train_checkpoint_load(const char *path, uint64_t parameters, train_state *st,
                                 float **params, float **m, float **v)
{
    *params = *m = *v = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open the checkpoint to resume from", path);
    float **arrays[3] = {params, m, v};
    vkq_checksum sum;
    vkq_checksum_start(&sum);
    vkq_status s = read_header(path, f, parameters, st, &sum);
    if (s == VKQ_OK)
        s = read_arrays(path, f, parameters, arrays, &sum);
    fclose(f);
    if (s != VKQ_OK)
        for (int i = 0; i < 3; i++) {
            free(*arrays[i]);
            *arrays[i] = NULL;
        }
    return s;
}
