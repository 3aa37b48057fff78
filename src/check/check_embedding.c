#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { MAX_TOKENS = 160 };

typedef struct embedding_case {
    uint32_t n, dim, vocab;
} embedding_case;

/* Few ids for many tokens, so ids repeat; 150 x 13 is not a multiple of the workgroup size. */
static const embedding_case cases[] = {{1, 1, 1}, {7, 5, 3}, {40, 37, 11}, {150, 13, 97}};

/* One case: host inputs, the device buffers, and dtable's non-zero starting value. */
typedef struct embedding_data {
    uint32_t n, dim, vocab;
    size_t n_out, n_table;
    int32_t tokens[MAX_TOKENS];
    float *table, *dout, *dtable0;
    vkq_buf dev_table, dev_tokens, dev_dout;
    vkq_guarded out, dtable;
} embedding_data;

static vkq_status device_forward(vkq_check_env *e, void *user, const float *table, float *out)
{
    embedding_data *d = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->dev_table, 0, table, d->n_table * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_embedding_forward(e->rec, d->dev_table, d->dev_tokens, d->out.view, d->n, d->dim,
                                  d->vocab));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, d->out.view, 0, out, d->n_out * sizeof(float));
}

static void random_tokens(vkq_check_env *e, int32_t *tokens, uint32_t n, uint32_t vocab)
{
    float u[MAX_TOKENS];
    vkq_check_random(e, u, n, 0.0f, (float)vocab);
    for (uint32_t t = 0; t < n; t++)
        tokens[t] = u[t] < vocab ? (int32_t)u[t] : (int32_t)vocab - 1;
}

static vkq_status prepare(vkq_check_env *e, const embedding_case *c, embedding_data *d)
{
    *d = (embedding_data){.n = c->n, .dim = c->dim, .vocab = c->vocab,
                          .n_out = (size_t)c->n * c->dim, .n_table = (size_t)c->vocab * c->dim};
    d->table = vkq_check_floats(e, d->n_table), d->dout = vkq_check_floats(e, d->n_out);
    d->dtable0 = vkq_check_floats(e, d->n_table);
    if (!d->table || !d->dout || !d->dtable0)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    random_tokens(e, d->tokens, c->n, c->vocab);
    vkq_check_random(e, d->table, d->n_table, -1.0f, 1.0f);
    vkq_check_random(e, d->dout, d->n_out, -1.0f, 1.0f);
    vkq_check_random(e, d->dtable0, d->n_table, -1.0f, 1.0f); /* non-zero: the backward adds */
    VKQ_TRY(vkq_check_input(e, d->table, d->n_table, &d->dev_table));
    VKQ_TRY(vkq_check_input_ints(e, d->tokens, c->n, &d->dev_tokens));
    VKQ_TRY(vkq_check_input(e, d->dout, d->n_out, &d->dev_dout));
    VKQ_TRY(vkq_check_output(e, NULL, d->n_out, &d->out));
    return vkq_check_output(e, d->dtable0, d->n_table, &d->dtable);
}

static vkq_status upload_index(vkq_check_env *e, const vkq_embedding_index *ix, uint32_t n,
                               vkq_buf out[3])
{
    VKQ_TRY(vkq_check_input_ints(e, ix->positions, n, &out[0]));
    VKQ_TRY(vkq_check_input_ints(e, ix->group_start, ix->groups + 1, &out[1]));
    return vkq_check_input_ints(e, ix->group_token, ix->groups, &out[2]);
}

/* Records the backward through a freshly built index of the case's tokens. */
static vkq_status record_backward(vkq_check_env *e, const embedding_data *d)
{
    vkq_embedding_index ix;
    VKQ_TRY(vkq_embedding_index_build(d->tokens, d->n, d->vocab, &ix));
    vkq_buf index[3];
    vkq_status s = upload_index(e, &ix, d->n, index);
    if (s == VKQ_OK)
        s = vkq_embedding_backward(e->rec, d->dev_dout, index[0], index[1], index[2], ix.groups,
                                   d->dtable.view, d->n, d->dim);
    vkq_embedding_index_free(&ix);
    return s;
}

static void case_name(const embedding_data *d, const char *what, char *name, size_t size)
{
    snprintf(name, size, "n=%u dim=%u vocab=%u %s", d->n, d->dim, d->vocab, what);
}

static vkq_status compare_with_reference(vkq_check_env *e, const embedding_data *d)
{
    float *out = vkq_check_floats(e, d->n_out), *dtable = vkq_check_floats(e, d->n_table);
    float *got = vkq_check_floats(e, d->n_table > d->n_out ? d->n_table : d->n_out);
    if (!out || !dtable || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_ref_embedding_forward(VKQ_F32, d->table, d->tokens, out, d->n, d->dim, d->vocab);
    memcpy(dtable, d->dtable0, d->n_table * sizeof *dtable);
    vkq_ref_embedding_backward(d->dout, d->tokens, dtable, d->n, d->dim);

    char name[96];
    int guards;
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"out", &d->out, out}, {"dtable", &d->dtable, dtable}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        case_name(d, outs[i].what, name, sizeof name);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, outs[i].g->n), 1e-10, guards);
    }
    return VKQ_OK;
}

/* What the device backward added to dtable against central differences of the device forward. */
static vkq_status check_finite_differences(vkq_check_env *e, embedding_data *d)
{
    float *added = vkq_check_floats(e, d->n_table);
    if (!added)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int guards;
    VKQ_TRY(vkq_check_read(e, &d->dtable, added, &guards));
    for (size_t i = 0; i < d->n_table; i++)
        added[i] -= d->dtable0[i];
    char name[96];
    case_name(d, "dtable", name, sizeof name);
    /* out is linear in the table: a large step loses nothing and rounds less */
    vkq_fd_check fd = {name, device_forward, d, d->table, d->n_table, d->dout, d->n_out, added,
                       0.25f, 24, 1e-5};
    return vkq_check_fd(e, &fd);
}

static vkq_status run_case(vkq_check_env *e, const embedding_case *c)
{
    embedding_data d;
    VKQ_TRY(prepare(e, c, &d));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_embedding_forward(e->rec, d.dev_table, d.dev_tokens, d.out.view, d.n, d.dim,
                                  d.vocab));
    VKQ_TRY(record_backward(e, &d));
    VKQ_TRY(vkq_check_submit(e));
    VKQ_TRY(compare_with_reference(e, &d));
    VKQ_TRY(check_finite_differences(e, &d));
    vkq_check_release(e);
    return VKQ_OK;
}

/* Ids outside the vocabulary read nothing and give rows of zeros. */
static vkq_status check_forward_bad_ids(vkq_check_env *e)
{
    enum { N = 4, DIM = 3, VOCAB = 2 };
    const int32_t tokens[N] = {1, -1, VOCAB, 0};
    float table[VOCAB * DIM], want[N * DIM], got[N * DIM];
    vkq_check_random(e, table, VOCAB * DIM, -1.0f, 1.0f);
    vkq_buf dtable, dtokens;
    vkq_guarded gout;
    VKQ_TRY(vkq_check_input(e, table, VOCAB * DIM, &dtable));
    VKQ_TRY(vkq_check_input_ints(e, tokens, N, &dtokens));
    VKQ_TRY(vkq_check_output(e, NULL, N * DIM, &gout));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_embedding_forward(e->rec, dtable, dtokens, gout.view, N, DIM, VOCAB));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_embedding_forward(VKQ_F32, table, tokens, want, N, DIM, VOCAB);
    int guards;
    VKQ_TRY(vkq_check_read(e, &gout, got, &guards));
    vkq_check_emit(e, "out-of-vocabulary ids out", vkq_nmse(got, want, N * DIM), 1e-10, guards);
    vkq_check_release(e);
    return VKQ_OK;
}

static unsigned count_differences(const int32_t *got, const int32_t *want, size_t n)
{
    unsigned d = 0;
    for (size_t i = 0; i < n; i++)
        d += got[i] != want[i];
    return d;
}

/* A worked example: tokens 3 1 3 0 1 3 group as {0: [3]}, {1: [1 4]}, {3: [0 2 5]}. */
static vkq_status check_index_example(vkq_check_env *e)
{
    const int32_t tokens[] = {3, 1, 3, 0, 1, 3};
    const int32_t positions[] = {3, 1, 4, 0, 2, 5}, starts[] = {0, 1, 3, 6}, ids[] = {0, 1, 3};
    vkq_embedding_index ix;
    VKQ_TRY(vkq_embedding_index_build(tokens, 6, 4, &ix));
    unsigned wrong = ix.groups == 3 ? count_differences(ix.positions, positions, 6) +
                                          count_differences(ix.group_start, starts, 4) +
                                          count_differences(ix.group_token, ids, 3)
                                    : 1;
    vkq_embedding_index_free(&ix);
    vkq_check_emit(e, "index of 3 1 3 0 1 3: wrong entries", wrong, 0.0, 1);
    return VKQ_OK;
}

static int refused(const int32_t *tokens, uint32_t n, uint32_t vocab)
{
    vkq_embedding_index ix;
    if (vkq_embedding_index_build(tokens, n, vocab, &ix) == VKQ_ERR_INVALID_ARGUMENT)
        return strstr(vkq_last_error(), "outside the vocabulary") != NULL;
    vkq_embedding_index_free(&ix);
    return 0;
}

/* The index refuses ids outside [0, vocab), which have no dtable row, and says why. */
static void check_index_refusals(vkq_check_env *e)
{
    const int32_t negative[] = {0, -1}, too_large[] = {2, 0};
    unsigned accepted = !refused(negative, 2, 2) + !refused(too_large, 2, 2);
    vkq_check_emit(e, "index refuses ids -1 and vocab: accepted", accepted, 0.0, 1);
}

/* The table in three pieces of rows, as a model holds a table larger than a binding: the
 * forward and backward over every piece give what they give over the whole table, exactly. */
static vkq_status check_pieces(vkq_check_env *e)
{
    enum { PIECES = 3, PER = 40 };
    embedding_data d;
    VKQ_TRY(prepare(e, &cases[3], &d));
    vkq_embedding_index ix;
    VKQ_TRY(vkq_embedding_index_build(d.tokens, d.n, d.vocab, &ix));
    vkq_buf index[3];
    vkq_status s = upload_index(e, &ix, d.n, index);
    VKQ_TRY(vkq_rec_begin(e->rec));
    for (uint32_t i = 0; s == VKQ_OK && i < PIECES; i++) {
        uint32_t first = i * PER, rows = d.vocab - first < PER ? d.vocab - first : PER;
        uint64_t at = (uint64_t)first * d.dim * sizeof(float), bytes = rows * d.dim * 4ull;
        vkq_table_rows table = {vkq_buf_slice(d.dev_table, at, bytes), first, rows, VKQ_F32};
        vkq_table_rows dtable = {vkq_buf_slice(d.dtable.view, at, bytes), first, rows, VKQ_F32};
        s = vkq_embedding_forward_rows(e->rec, &table, d.dev_tokens, d.out.view, d.n, d.dim,
                                       d.vocab);
        if (s == VKQ_OK)
            s = vkq_embedding_backward_rows(e->rec, d.dev_dout, index[0], index[1], index[2],
                                            ix.groups, &dtable, d.n, d.dim);
    }
    vkq_embedding_index_free(&ix);
    VKQ_TRY(s);
    VKQ_TRY(vkq_check_submit(e));
    float *out = vkq_check_floats(e, d.n_out), *dtable = vkq_check_floats(e, d.n_table);
    float *got = vkq_check_floats(e, d.n_table > d.n_out ? d.n_table : d.n_out);
    if (!out || !dtable || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_ref_embedding_forward(VKQ_F32, d.table, d.tokens, out, d.n, d.dim, d.vocab);
    memcpy(dtable, d.dtable0, d.n_table * sizeof *dtable);
    vkq_ref_embedding_backward(d.dout, d.tokens, dtable, d.n, d.dim);
    int guards;
    VKQ_TRY(vkq_check_read(e, &d.out, got, &guards));
    vkq_check_emit(e, "table in 3 pieces out", vkq_nmse(got, out, d.n_out), 0.0, guards);
    VKQ_TRY(vkq_check_read(e, &d.dtable, got, &guards));
    vkq_check_emit(e, "table in 3 pieces dtable", vkq_nmse(got, dtable, d.n_table), 1e-10,
                   guards);
    vkq_check_release(e);
    return VKQ_OK;
}

/* The forward from a frozen 16-bit table in pieces of rows (each its own buffer, as each piece
 * of a model's table lies at an aligned offset): exactly the reference's gather. */
static vkq_status check_half_table(vkq_check_env *e, const embedding_case *c, vkq_dtype type)
{
    enum { PER = 40 };
    embedding_data d;
    VKQ_TRY(prepare(e, c, &d));
    float *want = vkq_check_floats(e, d.n_out), *got = vkq_check_floats(e, d.n_out);
    if (!want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    void *stored[8];
    uint16_t *whole = (uint16_t *)vkq_check_floats(e, (d.n_table + 1) / 2);
    if (!whole)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(vkq_rec_begin(e->rec));
    for (uint32_t i = 0, first = 0; first < d.vocab; i++, first += PER) {
        uint32_t rows = d.vocab - first < PER ? d.vocab - first : PER;
        size_t n = (size_t)rows * d.dim;
        vkq_table_rows table = {.first = first, .rows = rows, .dtype = type};
        VKQ_TRY(vkq_check_input_typed(e, type, d.table + (size_t)first * d.dim, n, &stored[i],
                                      &table.buf));
        memcpy(whole + (size_t)first * d.dim, stored[i], n * sizeof *whole);
        VKQ_TRY(vkq_embedding_forward_rows(e->rec, &table, d.dev_tokens, d.out.view, d.n, d.dim,
                                           d.vocab));
    }
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_embedding_forward(type, whole, d.tokens, want, d.n, d.dim, d.vocab);
    int guards;
    VKQ_TRY(vkq_check_read(e, &d.out, got, &guards));
    char name[96];
    case_name(&d, type == VKQ_BF16 ? "out from a bf16 table" : "out from an f16 table", name,
              sizeof name);
    vkq_check_emit(e, name, vkq_nmse(got, want, d.n_out), 0.0, guards);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_embedding(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        VKQ_TRY(check_half_table(e, &cases[i], VKQ_BF16));
        VKQ_TRY(check_half_table(e, &cases[i], VKQ_F16));
    }
    VKQ_TRY(check_index_example(e));
    check_index_refusals(e);
    VKQ_TRY(check_forward_bad_ids(e));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return check_pieces(e);
}
