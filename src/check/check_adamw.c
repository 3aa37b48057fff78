#include <math.h>
#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { STEPS = 3, FIRST_STEP = 4 };

typedef struct adamw_case {
    uint32_t n;
    float clip; /* max_grad_norm as a multiple of the gradients' norm; 0: no clipping */
} adamw_case;

/* Clipping at half the norm scales the gradients; at twice the norm it leaves them be. */
static const adamw_case cases[] = {{1, 0.0f}, {37, 0.0f}, {37, 0.5f}, {100, 2.0f}, {4099, 0.5f}};

typedef struct adamw_bufs {
    uint32_t n;
    vkq_buf grads, hyper;
    vkq_guarded params, m, v, sumsq;
} adamw_bufs;

/* A warm-up schedule: lr and the bias corrections change at every step. */
static vkq_adamw_hyper hyper_at(int t, float max_grad_norm)
{
    vkq_adamw_hyper h = {.lr = 1e-2f * (float)t, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                         .weight_decay = 0.1f, .max_grad_norm = max_grad_norm};
    h.bias_correction1 = (float)(1.0 - pow(h.beta1, t));
    h.bias_correction2 = (float)(1.0 - pow(h.beta2, t));
    return h;
}

static vkq_status upload_hyper(vkq_check_env *e, vkq_buf buf, const vkq_adamw_hyper *h)
{
    return vkq_buf_upload(e->ctx, buf, 0, h, sizeof *h);
}

static vkq_status allocate(vkq_check_env *e, adamw_bufs *b, const float *params, const float *grads,
                           const float *m, const float *v)
{
    static const float unused_hyper[sizeof(vkq_adamw_hyper) / sizeof(float)];
    VKQ_TRY(vkq_check_input(e, grads, b->n, &b->grads));
    VKQ_TRY(vkq_check_input(e, unused_hyper, sizeof unused_hyper / sizeof(float), &b->hyper));
    VKQ_TRY(vkq_check_output(e, params, b->n, &b->params));
    VKQ_TRY(vkq_check_output(e, m, b->n, &b->m));
    VKQ_TRY(vkq_check_output(e, v, b->n, &b->v));
    return vkq_check_output(e, NULL, 1, &b->sumsq);
}

/* Recorded once; each submit is one optimiser step with whatever the hyper buffer holds. */
static vkq_status record_step(vkq_check_env *e, const adamw_bufs *b)
{
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_sumsq(e->rec, b->grads, b->n, b->sumsq.view));
    VKQ_TRY(vkq_adamw(e->rec, b->params.view, b->grads, b->m.view, b->v.view, b->hyper,
                      b->sumsq.view, b->n));
    return vkq_rec_end(e->rec);
}

static vkq_status compare(vkq_check_env *e, const char *case_name, const vkq_guarded *g,
                          const float *want, float *got)
{
    int guards;
    VKQ_TRY(vkq_check_read(e, g, got, &guards));
    vkq_check_emit(e, case_name, vkq_nmse(got, want, g->n), 1e-10, guards);
    return VKQ_OK;
}

/* Between submits of the one recording only the hyper buffer changes, so each step matching
 * the reference shows that a schedule needs no re-recording. */
static vkq_status run_case(vkq_check_env *e, const adamw_case *c)
{
    uint32_t n = c->n;
    float *params = vkq_check_floats(e, n), *grads = vkq_check_floats(e, n);
    float *m = vkq_check_floats(e, n), *v = vkq_check_floats(e, n), *got = vkq_check_floats(e, n);
    if (!params || !grads || !m || !v || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, params, n, -1.0f, 1.0f);
    vkq_check_random(e, grads, n, -1.0f, 1.0f);
    vkq_check_random(e, m, n, -0.1f, 0.1f); /* mid-training state */
    vkq_check_random(e, v, n, 0.0f, 0.01f);
    double sumsq = vkq_ref_sumsq(grads, n);

    adamw_bufs b = {.n = n};
    VKQ_TRY(allocate(e, &b, params, grads, m, v));
    VKQ_TRY(record_step(e, &b));
    char name[96];
    for (int t = FIRST_STEP; t < FIRST_STEP + STEPS; t++) {
        vkq_adamw_hyper h = hyper_at(t, c->clip * (float)sqrt(sumsq));
        VKQ_TRY(upload_hyper(e, b.hyper, &h));
        VKQ_TRY(vkq_rec_submit(e->rec));
        vkq_ref_adamw(params, grads, m, v, &h, sumsq, n);
        snprintf(name, sizeof name, "n=%u clip=%g step %d params", n, c->clip, t);
        VKQ_TRY(compare(e, name, &b.params, params, got));
    }
    snprintf(name, sizeof name, "n=%u clip=%g m", n, c->clip);
    VKQ_TRY(compare(e, name, &b.m, m, got));
    snprintf(name, sizeof name, "n=%u clip=%g v", n, c->clip);
    VKQ_TRY(compare(e, name, &b.v, v, got));
    vkq_check_release(e);
    return VKQ_OK;
}

/* One element, one step, numbers exact in binary:
 *   p = 2, g = 0.5, m = v = 0; lr 0.125, beta1 0.5, beta2 0.75, wd 0.5, t = 1 (bc1 0.5, bc2 0.25)
 *   m = 0.5 * 0.5 = 0.25;  v = 0.25 * 0.5^2 = 0.0625;  m/bc1 = 0.5;  sqrt(v/bc2) = 0.5
 *   p = 2 - 0.125 * 0.5 * 2 = 1.875;  p = 1.875 - 0.125 * 0.5 / (0.5 + eps) = 1.75 */
static vkq_status hand_checked_step(vkq_check_env *e)
{
    const float params = 2.0f, grad = 0.5f, zero = 0.0f;
    const vkq_adamw_hyper h = {.lr = 0.125f, .beta1 = 0.5f, .beta2 = 0.75f, .eps = 1e-8f,
                               .weight_decay = 0.5f, .bias_correction1 = 0.5f,
                               .bias_correction2 = 0.25f, .max_grad_norm = 0.0f};
    const float want[3] = {1.75f, 0.25f, 0.0625f};
    adamw_bufs b = {.n = 1};
    VKQ_TRY(allocate(e, &b, &params, &grad, &zero, &zero));
    VKQ_TRY(upload_hyper(e, b.hyper, &h));
    VKQ_TRY(record_step(e, &b));
    VKQ_TRY(vkq_rec_submit(e->rec));
    float got[3];
    VKQ_TRY(compare(e, "hand-checked step params", &b.params, &want[0], &got[0]));
    VKQ_TRY(compare(e, "hand-checked step m", &b.m, &want[1], &got[1]));
    VKQ_TRY(compare(e, "hand-checked step v", &b.v, &want[2], &got[2]));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_adamw(vkq_check_env *e)
{
    VKQ_TRY(hand_checked_step(e));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
