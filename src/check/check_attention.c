#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { MAX_SEQS = 4, MAX_TOKENS = 400 };

typedef struct attention_case {
    uint32_t lengths[MAX_SEQS]; /* the packed sequences, in order; 0 ends the list */
    uint32_t heads, kv_heads, head_dim;
} attention_case;

static const attention_case cases[] = {
    {{1, 7, 13, 4}, 4, 4, 8},  /* a kv head per query head */
    {{7, 1, 4, 13}, 4, 2, 16}, /* pairs of query heads share a kv head */
    {{13, 4, 1, 7}, 8, 2, 6},  /* groups of four, a head_dim not a multiple of 4 */
    {{9, 4, 17}, 2, 1, 5},     /* an odd head_dim (no pairs of dimensions) */
    {{29, 1, 9}, 3, 1, 8},     /* one kv head for three query heads, a longer sequence */
    {{300, 7, 33, 1}, 4, 1, 64}, /* long and awkward lengths, four query heads per kv head */
    {{33, 1, 7}, 2, 2, 128},      /* the largest head_dim */
    {{1, 300}, 8, 2, 8},          /* a sequence of one before a long one */
};

/* The device side of one case; the forward used by the finite differences runs on it. kept:
 * where the forward leaves the packed q, k and v for the backward, or empty, when the kernels
 * pack them themselves (every other case). */
typedef struct attention_dev {
    uint32_t n, heads, kv_heads, head_dim;
    vkq_buf q, k, v, starts, dout;
    vkq_guarded out, lse, dq, dk, dv, kept;
    vkq_buf perturbed; /* the input the finite differences move: q, k or v */
} attention_dev;

static size_t query_floats(const attention_dev *d)
{
    return (size_t)d->n * d->heads * d->head_dim;
}

static size_t kv_floats(const attention_dev *d)
{
    return (size_t)d->n * d->kv_heads * d->head_dim;
}

static vkq_status record_forward(vkq_rec *rec, const attention_dev *d)
{
    return vkq_attention_forward(rec, d->q, d->k, d->v, d->starts, d->out.view, d->lse.view,
                                 d->kept.view, d->n, d->heads, d->kv_heads, d->head_dim);
}

static vkq_status device_forward(vkq_check_env *e, void *user, const float *in, float *out)
{
    attention_dev *d = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->perturbed, 0, in, d->perturbed.size));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(record_forward(e->rec, d));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, d->out.view, 0, out, query_floats(d) * sizeof(float));
}

/* Host inputs of one case; dq, dk and dv hold what the backward adds to. */
typedef struct attention_host {
    float *q, *k, *v, *dout, *dq, *dk, *dv;
    int32_t starts[MAX_TOKENS];
} attention_host;

static uint32_t pack_sequences(const attention_case *c, int32_t *starts)
{
    uint32_t n = 0;
    for (int i = 0; i < MAX_SEQS && c->lengths[i]; i++) {
        for (uint32_t j = 0; j < c->lengths[i]; j++)
            starts[n + j] = (int32_t)n;
        n += c->lengths[i];
    }
    return n;
}

/* A kept buffer of exactly the bytes the kernels ask for, its guards catching any write past
 * them; none when they ask for none (the gpu variant). */
static vkq_status make_kept(vkq_check_env *e, attention_dev *d)
{
    vkq_scratch_target target;
    vkq_scratch_target_of(e->ctx, &target);
    uint64_t bytes = vkq_attention_kept_bytes(&target, d->n, d->heads, d->kv_heads, d->head_dim);
    return bytes ? vkq_check_output(e, NULL, bytes / sizeof(float), &d->kept) : VKQ_OK;
}

static vkq_status make_inputs(vkq_check_env *e, attention_dev *d, attention_host *h, int kept)
{
    size_t nq = query_floats(d), nkv = kv_floats(d);
    h->q = vkq_check_floats(e, nq), h->k = vkq_check_floats(e, nkv);
    h->v = vkq_check_floats(e, nkv), h->dout = vkq_check_floats(e, nq);
    h->dq = vkq_check_floats(e, nq), h->dk = vkq_check_floats(e, nkv);
    h->dv = vkq_check_floats(e, nkv);
    if (!h->q || !h->k || !h->v || !h->dout || !h->dq || !h->dk || !h->dv)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    /* Scores q.k / sqrt(head_dim) spread with a standard deviation of about 1.3. */
    vkq_check_random(e, h->q, nq, -2.0f, 2.0f);
    vkq_check_random(e, h->k, nkv, -2.0f, 2.0f);
    vkq_check_random(e, h->v, nkv, -1.0f, 1.0f);
    vkq_check_random(e, h->dout, nq, -1.0f, 1.0f);
    vkq_check_random(e, h->dq, nq, -1.0f, 1.0f);
    vkq_check_random(e, h->dk, nkv, -1.0f, 1.0f);
    vkq_check_random(e, h->dv, nkv, -1.0f, 1.0f);

    VKQ_TRY(vkq_check_input(e, h->q, nq, &d->q));
    VKQ_TRY(vkq_check_input(e, h->k, nkv, &d->k));
    VKQ_TRY(vkq_check_input(e, h->v, nkv, &d->v));
    VKQ_TRY(vkq_check_input(e, h->dout, nq, &d->dout));
    VKQ_TRY(vkq_check_input_ints(e, h->starts, d->n, &d->starts));
    VKQ_TRY(vkq_check_output(e, NULL, nq, &d->out));
    VKQ_TRY(vkq_check_output(e, NULL, (size_t)d->n * d->heads, &d->lse));
    VKQ_TRY(vkq_check_output(e, h->dq, nq, &d->dq));
    VKQ_TRY(vkq_check_output(e, h->dk, nkv, &d->dk));
    VKQ_TRY(vkq_check_output(e, h->dv, nkv, &d->dv));
    return kept ? make_kept(e, d) : VKQ_OK;
}

typedef struct reference_out {
    float *out, *lse, *dq, *dk, *dv;
} reference_out;

static vkq_status run_reference(vkq_check_env *e, const attention_dev *d, const attention_host *h,
                                reference_out *r)
{
    size_t nq = query_floats(d), nkv = kv_floats(d);
    r->out = vkq_check_floats(e, nq), r->lse = vkq_check_floats(e, (size_t)d->n * d->heads);
    r->dq = vkq_check_floats(e, nq), r->dk = vkq_check_floats(e, nkv);
    r->dv = vkq_check_floats(e, nkv);
    if (!r->out || !r->lse || !r->dq || !r->dk || !r->dv)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    memcpy(r->dq, h->dq, nq * sizeof(float));
    memcpy(r->dk, h->dk, nkv * sizeof(float));
    memcpy(r->dv, h->dv, nkv * sizeof(float));
    vkq_ref_attention_forward(h->q, h->k, h->v, h->starts, r->out, r->lse, d->n, d->heads,
                              d->kv_heads, d->head_dim);
    vkq_ref_attention_backward(h->dout, h->q, h->k, h->v, h->starts, r->out, r->lse, r->dq,
                               r->dk, r->dv, d->n, d->heads, d->kv_heads, d->head_dim);
    return VKQ_OK;
}

static vkq_status compare_outputs(vkq_check_env *e, const char *prefix, const attention_dev *d,
                                  const reference_out *r)
{
    float *got = vkq_check_floats(e, query_floats(d) > kv_floats(d) ? query_floats(d)
                                                                    : kv_floats(d));
    if (!got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"out", &d->out, r->out}, {"lse", &d->lse, r->lse}, {"dq", &d->dq, r->dq},
        {"dk", &d->dk, r->dk},    {"dv", &d->dv, r->dv}};
    char name[96];
    int guards;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        snprintf(name, sizeof name, "%s %s", prefix, outs[i].what);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, outs[i].g->n), 1e-10, guards);
    }
    if (!d->kept.n)
        return VKQ_OK;
    float *kept = vkq_check_floats(e, d->kept.n);
    if (!kept)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(vkq_check_read(e, &d->kept, kept, &guards));
    snprintf(name, sizeof name, "%s panels in bounds", prefix);
    vkq_check_emit(e, name, 0.0, 0.0, guards);
    return VKQ_OK;
}

/* The device gradient of one input (what the backward added to `initial`) against central
 * differences of the device forward, with loss = sum dout * out. */
static vkq_status gradient_fd(vkq_check_env *e, const char *name, attention_dev *d,
                              vkq_buf input, const float *x, const vkq_guarded *grad,
                              const float *initial, const float *dout, float step)
{
    float *analytic = vkq_check_floats(e, grad->n);
    if (!analytic)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int guards;
    VKQ_TRY(vkq_check_read(e, grad, analytic, &guards));
    for (size_t i = 0; i < grad->n; i++)
        analytic[i] -= initial[i];
    d->perturbed = input;
    vkq_fd_check fd = {name, device_forward, d, x, grad->n, dout, query_floats(d), analytic,
                       step, 12, 1e-5};
    return vkq_check_fd(e, &fd);
}

static vkq_status check_gradients(vkq_check_env *e, const char *prefix, attention_dev *d,
                                  const attention_host *h)
{
    char name[96];
    snprintf(name, sizeof name, "%s dq", prefix);
    VKQ_TRY(gradient_fd(e, name, d, d->q, h->q, &d->dq, h->dq, h->dout, 1e-2f));
    snprintf(name, sizeof name, "%s dk", prefix);
    VKQ_TRY(gradient_fd(e, name, d, d->k, h->k, &d->dk, h->dk, h->dout, 1e-2f));
    /* out is linear in v: a large step loses nothing and rounds less */
    snprintf(name, sizeof name, "%s dv", prefix);
    return gradient_fd(e, name, d, d->v, h->v, &d->dv, h->dv, h->dout, 0.25f);
}

/* A copy of x whose row `row` (of `width` floats) is redrawn; NULL when out of memory. */
static float *moved_copy(vkq_check_env *e, const float *x, size_t n, uint32_t row, size_t width,
                         float lo, float hi)
{
    float *copy = vkq_check_floats(e, n);
    if (copy) {
        memcpy(copy, x, n * sizeof(float));
        vkq_check_random(e, copy + row * width, width, lo, hi);
    }
    return copy;
}

/* Runs the forward on q, k and v and downloads out, then lse, into `results`. */
static vkq_status forward_results(vkq_check_env *e, attention_dev *d, const float *q,
                                  const float *k, const float *v, float *results)
{
    size_t nq = query_floats(d), nkv = kv_floats(d);
    VKQ_TRY(vkq_buf_upload(e->ctx, d->q, 0, q, nq * sizeof(float)));
    VKQ_TRY(vkq_buf_upload(e->ctx, d->k, 0, k, nkv * sizeof(float)));
    VKQ_TRY(vkq_buf_upload(e->ctx, d->v, 0, v, nkv * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(record_forward(e->rec, d));
    VKQ_TRY(vkq_check_submit(e));
    VKQ_TRY(vkq_buf_download(e->ctx, d->out.view, 0, results, nq * sizeof(float)));
    return vkq_buf_download(e->ctx, d->lse.view, 0, results + nq,
                            (size_t)d->n * d->heads * sizeof(float));
}

/* How many of token t's out and lse values differ, bit for bit, between two results. */
static unsigned token_changes(const attention_dev *d, const float *a, const float *b, uint32_t t)
{
    size_t row = (size_t)d->heads * d->head_dim, lse = query_floats(d) + (size_t)t * d->heads;
    unsigned changes = 0;
    for (size_t j = 0; j < row; j++)
        changes += memcmp(&a[t * row + j], &b[t * row + j], sizeof(float)) != 0;
    for (size_t j = 0; j < d->heads; j++)
        changes += memcmp(&a[lse + j], &b[lse + j], sizeof(float)) != 0;
    return changes;
}

/* Moves q, k and v of token `moved` and counts the out and lse values that changed before
 * `moved` or from `end` on (none may), plus one if the token's own output did not change. */
static vkq_status count_leaks(vkq_check_env *e, attention_dev *d, const attention_host *h,
                              uint32_t moved, uint32_t end, double *leaks)
{
    size_t nq = query_floats(d), nkv = kv_floats(d), results = nq + (size_t)d->n * d->heads;
    size_t q_row = (size_t)d->heads * d->head_dim, kv_row = (size_t)d->kv_heads * d->head_dim;
    float *q = moved_copy(e, h->q, nq, moved, q_row, -2.0f, 2.0f);
    float *k = moved_copy(e, h->k, nkv, moved, kv_row, -2.0f, 2.0f);
    float *v = moved_copy(e, h->v, nkv, moved, kv_row, -1.0f, 1.0f);
    float *before = vkq_check_floats(e, results), *after = vkq_check_floats(e, results);
    if (!q || !k || !v || !before || !after)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(forward_results(e, d, h->q, h->k, h->v, before));
    VKQ_TRY(forward_results(e, d, q, k, v, after));
    *leaks = token_changes(d, before, after, moved) == 0;
    for (uint32_t t = 0; t < d->n; t++)
        if (t < moved || t >= end)
            *leaks += token_changes(d, before, after, t);
    return VKQ_OK;
}

/* Moves the last token of the second sequence: nothing outside that sequence, nor before the
 * token, may change, bit for bit. Next to the third sequence, it is where an off-by-one in the
 * sequence bounds would show. */
static vkq_status check_isolation(vkq_check_env *e, const char *prefix, const attention_case *c,
                                  attention_dev *d, const attention_host *h)
{
    uint32_t end = c->lengths[0] + c->lengths[1];
    double leaks = 0.0;
    VKQ_TRY(count_leaks(e, d, h, end - 1, end, &leaks));
    char name[96];
    snprintf(name, sizeof name, "%s isolation", prefix);
    vkq_check_emit(e, name, leaks, 0.0, 1);
    return VKQ_OK;
}

static vkq_status run_case(vkq_check_env *e, const attention_case *c, int kept)
{
    attention_host h;
    attention_dev d = {.heads = c->heads, .kv_heads = c->kv_heads, .head_dim = c->head_dim};
    d.n = pack_sequences(c, h.starts);
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, "seqs");
    for (int i = 0; i < MAX_SEQS && c->lengths[i]; i++)
        len += snprintf(prefix + len, sizeof prefix - len, "%s%u", i ? "," : " ", c->lengths[i]);
    snprintf(prefix + len, sizeof prefix - len, " heads %u/%u dim %u%s", c->heads, c->kv_heads,
             c->head_dim, kept ? " kept" : "");

    VKQ_TRY(make_inputs(e, &d, &h, kept));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(record_forward(e->rec, &d));
    VKQ_TRY(vkq_attention_backward(e->rec, d.dout, d.q, d.k, d.v, d.starts, d.out.view,
                                   d.lse.view, d.kept.view, d.dq.view, d.dk.view, d.dv.view, d.n,
                                   d.heads, d.kv_heads, d.head_dim));
    VKQ_TRY(vkq_check_submit(e));
    reference_out r;
    VKQ_TRY(run_reference(e, &d, &h, &r));
    VKQ_TRY(compare_outputs(e, prefix, &d, &r));
    VKQ_TRY(check_gradients(e, prefix, &d, &h));
    VKQ_TRY(check_isolation(e, prefix, c, &d, &h));
    vkq_check_release(e);
    return VKQ_OK;
}

/* Shapes the kernels cannot run are refused before anything is recorded; a good shape on the
 * same buffers is accepted, so the refusals are about the shapes. */
static vkq_status check_refusals(vkq_check_env *e)
{
    enum { FLOATS = 1024 };
    struct { uint32_t heads, kv_heads, head_dim; int good; } shapes[] = {
        {4, 3, 8, 0}, {4, 0, 8, 0}, {4, 4, 0, 0}, {4, 4, VKQ_ATTENTION_MAX_HEAD_DIM + 1, 0},
        {4, 2, 8, 1}};
    float *zeros = vkq_check_floats(e, FLOATS);
    if (!zeros)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_buf in, out, lse;
    VKQ_TRY(vkq_check_input(e, zeros, FLOATS, &in));
    VKQ_TRY(vkq_check_input(e, zeros, FLOATS, &out));
    VKQ_TRY(vkq_check_input(e, zeros, FLOATS, &lse));
    VKQ_TRY(vkq_rec_begin(e->rec));
    double wrong = 0.0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        vkq_status s = vkq_attention_forward(e->rec, in, in, in, in, out, lse, (vkq_buf){0}, 1,
                                             shapes[i].heads, shapes[i].kv_heads,
                                             shapes[i].head_dim);
        wrong += (s == VKQ_OK) != shapes[i].good;
    }
    VKQ_TRY(vkq_check_submit(e));
    vkq_check_emit(e, "refuses bad head shapes", wrong, 0.0, 1);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_attention(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i], i % 2));
    return check_refusals(e);
}
