#include <math.h>

#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct rope_push {
    uint32_t n, heads, head_dim;
} rope_push;
VKQ_STATIC_ASSERT_PUSH(rope_push);

typedef struct rope_cpu_push {
    uint32_t n, heads;
    int32_t x_at, freq_at; /* texel offsets of x and inv_freq in their spans */
} rope_cpu_push;
VKQ_STATIC_ASSERT_PUSH(rope_cpu_push);

enum { FORWARD, BACKWARD };

/* transformers' _compute_llama3_parameters: long wavelengths slow down by `factor`, short ones
 * stay, and those between blend the two smoothly: the weight of the unscaled frequency. */
static double llama3_smooth(double inv_freq, const vkq_rope_scaling *s)
{
    const double pi = 3.14159265358979323846;
    double context = s->original_max_position;
    double low_freq_wavelen = context / s->low_freq_factor;
    double high_freq_wavelen = context / s->high_freq_factor;
    double wavelen = 2.0 * pi / inv_freq;
    if (wavelen > low_freq_wavelen)
        return 0.0;
    if (wavelen < high_freq_wavelen)
        return 1.0;
    return (context / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
}

static double llama3_scaled(double inv_freq, const vkq_rope_scaling *s)
{
    double smooth = llama3_smooth(inv_freq, s);
    return (1.0 - smooth) * inv_freq / s->factor + smooth * inv_freq;
}

static double unscaled_frequency(float theta, uint32_t i, uint32_t head_dim)
{
    return 1.0 / pow(theta, 2.0 * i / head_dim);
}

void vkq_rope_llama3_divisors(float theta, const vkq_rope_scaling *scaling, uint32_t head_dim,
                              float *divisor)
{
    for (uint32_t i = 0; i < head_dim / 2; i++) {
        double smooth = llama3_smooth(unscaled_frequency(theta, i, head_dim), scaling);
        divisor[i] = (float)(1.0 / ((1.0 - smooth) / scaling->factor + smooth));
    }
}

void vkq_rope_frequencies(float theta, const vkq_rope_scaling *scaling, uint32_t head_dim,
                          float *inv_freq)
{
    for (uint32_t i = 0; i < head_dim / 2; i++) {
        double f = unscaled_frequency(theta, i, head_dim);
        if (scaling && scaling->type == VKQ_ROPE_SCALING_LLAMA3)
            f = llama3_scaled(f, scaling);
        inv_freq[i] = (float)f;
    }
}

/* rope_cpu for the dispatch d of rope: sixteen invocations a workgroup along a token's heads
 * and groups of four pairs, the token in y (and z past 65535). */
static vkq_status rope_cpu(vkq_rec *rec, vkq_dispatch *d, const vkq_spans *spans,
                           const vkq_rope_args *a)
{
    rope_cpu_push push = {a->n, a->heads, spans->at[0], spans->at[1]};
    d->kernel = &vkq_kernel_rope_cpu;
    d->spec[2] = spans->bits;
    d->spec[3] = a->head_dim;
    d->spec_count = 4;
    d->push = &push;
    d->push_bytes = sizeof push;
    d->slot[2] = (vkq_binding){0}; /* inv_freq comes through its span */
    vkq_spans_bind(spans, d);
    uint32_t tokens = a->n ? a->n : 1;
    d->groups[0] = (a->heads * (a->head_dim / 8) + 15) / 16;
    d->groups[1] = tokens < 65535 ? tokens : 65535;
    d->groups[2] = (tokens + d->groups[1] - 1) / d->groups[1];
    return vkq_rec_dispatch(rec, d);
}

static vkq_status rope(vkq_rec *rec, uint32_t mode, const char *op, vkq_buf x,
                       const vkq_rope_args *a)
{
    if (a->heads == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: no heads", op);
    if (a->head_dim == 0 || a->head_dim % 2 != 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: head_dim %u is not a positive even number",
                        op, a->head_dim);
    if (a->pairs != VKQ_ROPE_INTERLEAVED && a->pairs != VKQ_ROPE_HALVES)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: unknown pairing %d", op, (int)a->pairs);
    const vkq_buf streams[2] = {x, a->inv_freq};
    const uint64_t floats[2] = {(uint64_t)a->n * a->heads * a->head_dim, a->head_dim / 2};
    VKQ_TRY(vkq_need_floats(op, "x", x, floats[0]));
    VKQ_TRY(vkq_need_floats(op, "positions", a->positions, a->n));
    VKQ_TRY(vkq_need_floats(op, "inv_freq", a->inv_freq, floats[1]));
    rope_push push = {a->n, a->heads, a->head_dim};
    vkq_dispatch d = {.kernel = &vkq_kernel_rope,
                      .spec = {mode, (uint32_t)a->pairs},
                      .spec_count = 2,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .slot = {{x, VKQ_READ_WRITE}, {a->positions, VKQ_READ},
                               {a->inv_freq, VKQ_READ}}};
    vkq_spans spans;
    if (a->head_dim % 8 == 0 && vkq_spans_plan(rec, streams, floats, 2, &spans))
        return rope_cpu(rec, &d, &spans, a);
    vkq_grid_1d((uint64_t)a->n * (a->head_dim / 2), 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_rope_forward(vkq_rec *rec, vkq_buf x, const vkq_rope_args *a)
{
    return rope(rec, FORWARD, "rope", x, a);
}

vkq_status vkq_rope_backward(vkq_rec *rec, vkq_buf dx, const vkq_rope_args *a)
{
    return rope(rec, BACKWARD, "rope backward", dx, a);
}
