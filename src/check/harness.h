/* What kernel checks share: inputs, guarded outputs, NMSE, and reporting. */
#ifndef VKQ_CHECK_HARNESS_H
#define VKQ_CHECK_HARNESS_H

#include <stddef.h>

#include "base/status_internal.h"
#include "vkquill/kernels.h"
#include "vkquill/selftest.h"

enum { VKQ_GUARD_WORDS = 16 };

typedef struct vkq_check_env {
    vkq_ctx *ctx;
    vkq_rec *rec;
    const char *family;
    const char *variant;
    vkq_check_report report;
    void *user;
    unsigned failed;
    uint64_t rng;
    /* what the current case allocated, released by vkq_check_release */
    vkq_buf bufs[32];
    unsigned buf_count;
    void *host[32];
    unsigned host_count;
} vkq_check_env;

/* An output buffer followed by guard words; `view` is what kernels get. */
typedef struct vkq_guarded {
    vkq_buf whole;
    vkq_buf view;
    size_t n;
} vkq_guarded;

typedef vkq_status (*vkq_check_fn)(vkq_check_env *env);

float *vkq_check_floats(vkq_check_env *env, size_t n);        /* zeroed; NULL when out of memory */
void vkq_check_random(vkq_check_env *env, float *x, size_t n, float lo, float hi);
vkq_status vkq_check_input(vkq_check_env *env, const float *data, size_t n, vkq_buf *out);
/* An input stored as type t: data's n floats are rounded to t (to nearest even) and uploaded in
 * whole 32-bit words; *stored is the host copy in t (freed by vkq_check_release). */
vkq_status vkq_check_input_typed(vkq_check_env *env, vkq_dtype t, const float *data, size_t n,
                                 void **stored, vkq_buf *out);
vkq_status vkq_check_input_ints(vkq_check_env *env, const int32_t *data, size_t n, vkq_buf *out);
vkq_status vkq_check_output(vkq_check_env *env, const float *initial, size_t n, vkq_guarded *out);
/* Downloads an output; *guards_ok tells whether the guard words survived. */
vkq_status vkq_check_read(vkq_check_env *env, const vkq_guarded *g, float *out, int *guards_ok);
/* Submits what was recorded since vkq_rec_begin. */
vkq_status vkq_check_submit(vkq_check_env *env);
double vkq_nmse(const float *got, const float *want, size_t n);
void vkq_check_emit(vkq_check_env *env, const char *case_name, double error, double threshold,
                    int guards_ok);
void vkq_check_release(vkq_check_env *env);

vkq_status vkq_check_matmul(vkq_check_env *env);
vkq_status vkq_check_elementwise(vkq_check_env *env);
vkq_status vkq_check_reduce(vkq_check_env *env);
vkq_status vkq_check_rmsnorm(vkq_check_env *env);
vkq_status vkq_check_attention_decode(vkq_check_env *env);
vkq_status vkq_check_attention(vkq_check_env *env);
vkq_status vkq_check_embedding(vkq_check_env *env);
vkq_status vkq_check_rope(vkq_check_env *env);
vkq_status vkq_check_bias(vkq_check_env *env);
vkq_status vkq_check_dropout(vkq_check_env *env);
vkq_status vkq_check_swiglu(vkq_check_env *env);
vkq_status vkq_check_rows(vkq_check_env *env);
vkq_status vkq_check_cross_entropy(vkq_check_env *env);
vkq_status vkq_check_adamw(vkq_check_env *env);
vkq_status vkq_check_causal_loss(vkq_check_env *env);

#endif

/* Finite-difference gradient checks of backward kernels. A forward runs on the device and
 * maps x (nx floats) to y (ny floats); with loss(x) = sum_i r_i y_i(x), the analytic gradient
 * dloss/dx (from the backward kernel, given dy = r) is compared, as NMSE, with central
 * differences at `probes` coordinates spread over x. */
typedef vkq_status (*vkq_fd_forward)(vkq_check_env *env, void *user, const float *x, float *y);

typedef struct vkq_fd_check {
    const char *case_name;
    vkq_fd_forward forward;
    void *user;
    const float *x;
    size_t nx;
    const float *r;
    size_t ny;
    const float *analytic;
    float step;       /* h of (f(x+h) - f(x-h)) / 2h */
    unsigned probes;
    double threshold;
} vkq_fd_check;

vkq_status vkq_check_fd(vkq_check_env *env, const vkq_fd_check *c);
