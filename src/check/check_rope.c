#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { MAX_SEQUENCES = 4, MAX_TOKENS = 64 };

/* Sequences of these lengths (0-terminated) packed into one token stream. */
typedef struct rope_case {
    uint32_t lengths[MAX_SEQUENCES];
    uint32_t heads, head_dim;
    float theta;
    vkq_rope_pairs pairs;
    vkq_rope_scaling scaling;
} rope_case;

/* Llama 3.1's rope_scaling, with a short original context so that the positions here reach
 * wavelengths in all three bands (kept, blended, slowed down). A macro: the initializers of
 * static data take constants only, not another object. */
#define LLAMA3 {VKQ_ROPE_SCALING_LLAMA3, 8.0f, 1.0f, 4.0f, 64}

static const rope_case cases[] = {
    {{1}, 1, 2, 10000.0f, VKQ_ROPE_INTERLEAVED, {0}},
    {{1, 5, 12}, 3, 8, 10000.0f, VKQ_ROPE_INTERLEAVED, {0}},
    {{7, 2, 9}, 5, 6, 10000.0f, VKQ_ROPE_INTERLEAVED, {0}},
    {{40, 3}, 2, 64, 500000.0f, VKQ_ROPE_INTERLEAVED, {0}}, /* Llama 3's theta */
    {{1}, 1, 2, 10000.0f, VKQ_ROPE_HALVES, {0}},
    {{7, 2, 9}, 5, 6, 1000000.0f, VKQ_ROPE_HALVES, {0}},
    {{40, 3}, 2, 64, 500000.0f, VKQ_ROPE_HALVES, LLAMA3},
    {{1, 5, 12}, 3, 16, 10000.0f, VKQ_ROPE_INTERLEAVED, LLAMA3},
    {{3, 17}, 7, 16, 1000000.0f, VKQ_ROPE_HALVES, {0}}, /* heads x pair groups fill no workgroup */
    {{5, 2}, 9, 8, 10000.0f, VKQ_ROPE_INTERLEAVED, {0}},
};

typedef struct rope_bufs {
    vkq_rope_args args;
    vkq_buf x;
} rope_bufs;

static size_t floats_of(const rope_bufs *b)
{
    return (size_t)b->args.n * b->args.heads * b->args.head_dim;
}

static vkq_status device_forward(vkq_check_env *e, void *user, const float *x, float *y)
{
    rope_bufs *b = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, b->x, 0, x, floats_of(b) * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_rope_forward(e->rec, b->x, &b->args));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, b->x, 0, y, floats_of(b) * sizeof(float));
}

/* positions[t]: token t's place in its own sequence. Returns the token count. */
static uint32_t pack(const rope_case *c, int32_t positions[MAX_TOKENS])
{
    uint32_t n = 0;
    for (int s = 0; s < MAX_SEQUENCES && c->lengths[s]; s++) {
        for (uint32_t k = 0; k < c->lengths[s]; k++)
            positions[n + k] = (int32_t)k;
        n += c->lengths[s];
    }
    return n;
}

static void case_name(const rope_case *c, const char *what, char *name, size_t size)
{
    int used = snprintf(name, size, "lengths");
    for (int s = 0; s < MAX_SEQUENCES && c->lengths[s]; s++)
        used += snprintf(name + used, size - used, "%c%u", s ? ',' : '=', c->lengths[s]);
    snprintf(name + used, size - used, " heads=%u head_dim=%u %s%s %s", c->heads, c->head_dim,
             c->pairs == VKQ_ROPE_HALVES ? "halves" : "interleaved",
             c->scaling.type == VKQ_ROPE_SCALING_LLAMA3 ? " llama3" : "", what);
}

static vkq_status run_case(vkq_check_env *e, const rope_case *c)
{
    int32_t positions[MAX_TOKENS];
    float inv_freq[64];
    vkq_rope_frequencies(c->theta, &c->scaling, c->head_dim, inv_freq);
    rope_bufs b = {.args = {.n = pack(c, positions), .heads = c->heads, .head_dim = c->head_dim,
                            .pairs = c->pairs}};
    uint32_t tokens = b.args.n;
    size_t n = floats_of(&b);
    float *x = vkq_check_floats(e, n), *dy = vkq_check_floats(e, n);
    float *y = vkq_check_floats(e, n), *dx = vkq_check_floats(e, n);
    float *got = vkq_check_floats(e, n), *gpu_dx = vkq_check_floats(e, n);
    if (!x || !dy || !y || !dx || !got || !gpu_dx)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -2.0f, 2.0f);
    vkq_check_random(e, dy, n, -1.0f, 1.0f);

    vkq_guarded gx, gdx;
    VKQ_TRY(vkq_check_input_ints(e, positions, tokens, &b.args.positions));
    VKQ_TRY(vkq_check_input(e, inv_freq, c->head_dim / 2, &b.args.inv_freq));
    VKQ_TRY(vkq_check_output(e, x, n, &gx));
    VKQ_TRY(vkq_check_output(e, dy, n, &gdx));
    b.x = gx.view;

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_rope_forward(e->rec, gx.view, &b.args));
    VKQ_TRY(vkq_rope_backward(e->rec, gdx.view, &b.args));
    VKQ_TRY(vkq_check_submit(e));
    memcpy(y, x, n * sizeof *y);
    vkq_ref_rope_forward(y, positions, inv_freq, tokens, c->heads, c->head_dim, c->pairs);
    memcpy(dx, dy, n * sizeof *dx);
    vkq_ref_rope_backward(dx, positions, inv_freq, tokens, c->heads, c->head_dim, c->pairs);

    char name[160];
    int guards;
    VKQ_TRY(vkq_check_read(e, &gx, got, &guards));
    case_name(c, "y", name, sizeof name);
    vkq_check_emit(e, name, vkq_nmse(got, y, n), 1e-10, guards);
    VKQ_TRY(vkq_check_read(e, &gdx, gpu_dx, &guards));
    case_name(c, "dx", name, sizeof name);
    vkq_check_emit(e, name, vkq_nmse(gpu_dx, dx, n), 1e-10, guards);

    /* y is linear in x: a large step loses nothing and rounds less */
    vkq_fd_check fd = {name, device_forward, &b, x, n, dy, n, gpu_dx, 0.25f, 24, 1e-5};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_rope(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
