#include "check/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t guard_pattern = 0x7fa1c0deu; /* a NaN no kernel writes */

typedef struct family {
    const char *name;
    int has_variants;
    vkq_check_fn run;
} family;

static const family families[] = {
    {"matmul", 1, vkq_check_matmul},
    {"elementwise", 1, vkq_check_elementwise},
    {"reduce", 1, vkq_check_reduce},
    {"rmsnorm", 1, vkq_check_rmsnorm},
    {"attention", 1, vkq_check_attention},
    {"attention_decode", 1, vkq_check_attention_decode},
    {"embedding", 0, vkq_check_embedding},
    {"rope", 1, vkq_check_rope},
    {"bias", 0, vkq_check_bias},
    {"dropout", 0, vkq_check_dropout},
    {"swiglu", 1, vkq_check_swiglu},
    {"rows", 0, vkq_check_rows},
    {"cross_entropy", 0, vkq_check_cross_entropy},
    {"adamw", 1, vkq_check_adamw},
    {"causal_loss", 0, vkq_check_causal_loss},
};
enum { FAMILY_COUNT = sizeof families / sizeof families[0] };

unsigned vkq_check_family_count(void) { return FAMILY_COUNT; }
const char *vkq_check_family_name(unsigned i) { return i < FAMILY_COUNT ? families[i].name : NULL; }
int vkq_check_family_has_variants(unsigned i) { return i < FAMILY_COUNT && families[i].has_variants; }

float *vkq_check_floats(vkq_check_env *env, size_t n)
{
    if (env->host_count == sizeof env->host / sizeof env->host[0])
        return NULL;
    float *p = calloc(n ? n : 1, sizeof *p);
    if (p)
        env->host[env->host_count++] = p;
    return p;
}

void vkq_check_random(vkq_check_env *env, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        env->rng ^= env->rng << 13;
        env->rng ^= env->rng >> 7;
        env->rng ^= env->rng << 17;
        x[i] = lo + (hi - lo) * (float)((env->rng >> 40) * (1.0 / 16777216.0));
    }
}

static vkq_status track(vkq_check_env *env, uint64_t bytes, vkq_buf *out)
{
    if (env->buf_count == sizeof env->bufs / sizeof env->bufs[0])
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a check case allocated too many buffers");
    VKQ_TRY(vkq_buf_alloc(env->ctx, bytes, out));
    env->bufs[env->buf_count++] = *out;
    return VKQ_OK;
}

vkq_status vkq_check_input(vkq_check_env *env, const float *data, size_t n, vkq_buf *out)
{
    VKQ_TRY(track(env, n * sizeof(float), out));
    return vkq_buf_upload(env->ctx, *out, 0, data, n * sizeof(float));
}

vkq_status vkq_check_input_typed(vkq_check_env *env, vkq_dtype t, const float *data, size_t n,
                                 void **stored, vkq_buf *out)
{
    uint64_t bytes = (n * vkq_dtype_bytes(t) + 3) / 4 * 4;
    float *host = vkq_check_floats(env, bytes / 4);
    if (!host)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_dtype_from_f32(t, data, n, host);
    *stored = host;
    VKQ_TRY(track(env, bytes, out));
    return vkq_buf_upload(env->ctx, *out, 0, host, bytes);
}

vkq_status vkq_check_input_ints(vkq_check_env *env, const int32_t *data, size_t n, vkq_buf *out)
{
    VKQ_TRY(track(env, n * sizeof(int32_t), out));
    return vkq_buf_upload(env->ctx, *out, 0, data, n * sizeof(int32_t));
}

vkq_status vkq_check_output(vkq_check_env *env, const float *initial, size_t n, vkq_guarded *out)
{
    size_t total = n + VKQ_GUARD_WORDS;
    VKQ_TRY(track(env, total * sizeof(float), &out->whole));
    out->view = vkq_buf_slice(out->whole, 0, n * sizeof(float));
    out->n = n;
    uint32_t *words = calloc(total, sizeof *words);
    if (!words)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    if (initial)
        memcpy(words, initial, n * sizeof(float));
    for (size_t i = n; i < total; i++)
        words[i] = guard_pattern;
    vkq_status s = vkq_buf_upload(env->ctx, out->whole, 0, words, total * sizeof *words);
    free(words);
    return s;
}

vkq_status vkq_check_read(vkq_check_env *env, const vkq_guarded *g, float *out, int *guards_ok)
{
    uint32_t guard[VKQ_GUARD_WORDS];
    VKQ_TRY(vkq_buf_download(env->ctx, g->view, 0, out, g->n * sizeof(float)));
    VKQ_TRY(vkq_buf_download(env->ctx, g->whole, g->n * sizeof(float), guard, sizeof guard));
    *guards_ok = 1;
    for (int i = 0; i < VKQ_GUARD_WORDS; i++)
        *guards_ok &= guard[i] == guard_pattern;
    return VKQ_OK;
}

vkq_status vkq_check_submit(vkq_check_env *env)
{
    VKQ_TRY(vkq_rec_end(env->rec));
    return vkq_rec_submit(env->rec);
}

double vkq_nmse(const float *got, const float *want, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        err += d * d;
        norm += (double)want[i] * want[i];
    }
    if (err != err)
        return 1e30; /* NaN anywhere fails */
    return norm > 0.0 ? err / norm : err;
}

void vkq_check_emit(vkq_check_env *env, const char *case_name, double error, double threshold,
                    int guards_ok)
{
    vkq_check_result r = {.kernel = env->family,
                          .variant = env->variant,
                          .error = error,
                          .threshold = threshold,
                          .guards_ok = guards_ok};
    snprintf(r.case_name, sizeof r.case_name, "%s", case_name);
    r.passed = guards_ok && error <= threshold;
    if (!r.passed)
        env->failed++;
    if (env->report)
        env->report(&r, env->user);
}

void vkq_check_release(vkq_check_env *env)
{
    for (unsigned i = 0; i < env->buf_count; i++)
        vkq_buf_free(env->ctx, &env->bufs[i]);
    for (unsigned i = 0; i < env->host_count; i++)
        free(env->host[i]);
    env->buf_count = env->host_count = 0;
}

static vkq_status run_family(vkq_check_env *env, const family *f, vkq_variant variant)
{
    vkq_variant saved = vkq_ctx_variant(env->ctx);
    if (f->has_variants)
        vkq_ctx_set_variant(env->ctx, variant);
    env->family = f->name;
    env->variant = f->has_variants ? vkq_variant_name(variant) : "any";
    env->rng = 0x9e3779b97f4a7c15ull;
    vkq_status s = f->run(env);
    vkq_check_release(env);
    vkq_ctx_set_variant(env->ctx, saved);
    return s;
}

vkq_status vkq_selftest(vkq_ctx *ctx, const char *family_name, vkq_variant variant,
                        vkq_check_report report, void *user, unsigned *failed)
{
    vkq_check_env env = {.ctx = ctx, .report = report, .user = user};
    *failed = 0;
    int matched = 0;
    if (variant != VKQ_VARIANT_AUTO && !vkq_ctx_supports_variant(ctx, variant))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "this device cannot run the %s kernel variant",
                        vkq_variant_name(variant));
    VKQ_TRY(vkq_rec_create(ctx, &env.rec));
    vkq_status s = VKQ_OK;
    for (unsigned i = 0; i < FAMILY_COUNT && s == VKQ_OK; i++) {
        const family *f = &families[i];
        if (family_name && strcmp(family_name, f->name) != 0)
            continue;
        matched = 1;
        for (vkq_variant v = VKQ_VARIANT_CPU; v <= VKQ_VARIANT_GPU && s == VKQ_OK; v++) {
            int wanted = variant == VKQ_VARIANT_AUTO ? vkq_ctx_supports_variant(ctx, v) : v == variant;
            if (f->has_variants ? wanted : v == VKQ_VARIANT_CPU)
                s = run_family(&env, f, f->has_variants ? v : vkq_ctx_variant(ctx));
        }
    }
    vkq_rec_destroy(env.rec);
    VKQ_TRY(s);
    if (!matched)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "no kernel family is named '%s'; 'vkquill selftest --list' names them",
                        family_name);
    *failed = env.failed;
    return VKQ_OK;
}

static vkq_status fd_loss(vkq_check_env *env, const vkq_fd_check *c, const float *x, float *y,
                          double *loss)
{
    VKQ_TRY(c->forward(env, c->user, x, y));
    double sum = 0.0;
    for (size_t i = 0; i < c->ny; i++)
        sum += (double)c->r[i] * y[i];
    *loss = sum;
    return VKQ_OK;
}

vkq_status vkq_check_fd(vkq_check_env *env, const vkq_fd_check *c)
{
    unsigned probes = c->probes < c->nx ? c->probes : (unsigned)c->nx;
    float *x = malloc(c->nx * sizeof *x), *y = malloc(c->ny * sizeof *y);
    float *numeric = malloc(probes * sizeof *numeric), *analytic = malloc(probes * sizeof *analytic);
    vkq_status s = x && y && numeric && analytic
                       ? VKQ_OK
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    if (s == VKQ_OK)
        memcpy(x, c->x, c->nx * sizeof *x);
    for (unsigned p = 0; p < probes && s == VKQ_OK; p++) {
        size_t i = (size_t)((double)p * (double)c->nx / probes); /* spread over x */
        double plus = 0.0, minus = 0.0;
        x[i] = c->x[i] + c->step;
        s = fd_loss(env, c, x, y, &plus);
        x[i] = c->x[i] - c->step;
        if (s == VKQ_OK)
            s = fd_loss(env, c, x, y, &minus);
        x[i] = c->x[i];
        numeric[p] = (float)((plus - minus) / (2.0 * c->step));
        analytic[p] = c->analytic[i];
    }
    if (s == VKQ_OK) /* leaves the forward's device input as it found it */
        s = c->forward(env, c->user, c->x, y);
    if (s == VKQ_OK) {
        char name[160];
        snprintf(name, sizeof name, "%s fd", c->case_name);
        vkq_check_emit(env, name, vkq_nmse(analytic, numeric, probes), c->threshold, 1);
    }
    free(x);
    free(y);
    free(numeric);
    free(analytic);
    return s;
}
