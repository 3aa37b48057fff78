#include <math.h>
#include <stddef.h>

#include "kernels/reference.h"

typedef struct attention_ref {
    const float *q, *k, *v;
    const int32_t *starts;
    uint32_t n, heads, kv_heads, head_dim;
    double scale;
} attention_ref;

static const float *query_row(const attention_ref *a, const float *x, uint32_t t, uint32_t h)
{
    return x + ((size_t)t * a->heads + h) * a->head_dim;
}

/* Row s of k or v for query head h. */
static const float *kv_row(const attention_ref *a, const float *x, uint32_t s, uint32_t h)
{
    return x + ((size_t)s * a->kv_heads + h / (a->heads / a->kv_heads)) * a->head_dim;
}

static double dot(const float *a, const float *b, uint32_t n)
{
    double sum = 0.0;
    for (uint32_t j = 0; j < n; j++)
        sum += (double)a[j] * b[j];
    return sum;
}

static double score(const attention_ref *a, uint32_t t, uint32_t h, uint32_t s)
{
    return a->scale * dot(query_row(a, a->q, t, h), kv_row(a, a->k, s, h), a->head_dim);
}

static void forward_row(const attention_ref *a, uint32_t t, uint32_t h, float *out, float *lse)
{
    double max = -HUGE_VAL, sum = 0.0, acc[VKQ_ATTENTION_MAX_HEAD_DIM] = {0};
    for (uint32_t s = (uint32_t)a->starts[t]; s <= t; s++)
        max = fmax(max, score(a, t, h, s));
    for (uint32_t s = (uint32_t)a->starts[t]; s <= t; s++) {
        double e = exp(score(a, t, h, s) - max);
        const float *vr = kv_row(a, a->v, s, h);
        sum += e;
        for (uint32_t j = 0; j < a->head_dim; j++)
            acc[j] += e * vr[j];
    }
    float *o = out + ((size_t)t * a->heads + h) * a->head_dim;
    for (uint32_t j = 0; j < a->head_dim; j++)
        o[j] = (float)(acc[j] / sum);
    lse[(size_t)t * a->heads + h] = (float)(max + log(sum));
}

void vkq_ref_attention_forward(const float *q, const float *k, const float *v,
                               const int32_t *starts, float *out, float *lse, uint32_t n,
                               uint32_t heads, uint32_t kv_heads, uint32_t head_dim)
{
    attention_ref a = {q, k, v, starts, n, heads, kv_heads, head_dim, 1.0 / sqrt(head_dim)};
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t h = 0; h < heads; h++)
            forward_row(&a, t, h, out, lse);
}

/* What the backward needs of one (query t, head h). */
typedef struct query_terms {
    const float *dout; /* dout[t][h] */
    double lse, delta; /* delta = dout . out */
} query_terms;

static query_terms terms(const attention_ref *a, const float *dout, const float *out,
                         const float *lse, uint32_t t, uint32_t h)
{
    query_terms qt = {query_row(a, dout, t, h), lse[(size_t)t * a->heads + h], 0.0};
    qt.delta = dot(qt.dout, query_row(a, out, t, h), a->head_dim);
    return qt;
}

/* p = softmax probability of key s for query (t, h); ds = d loss / d score. */
static void probability(const attention_ref *a, const query_terms *qt, uint32_t t, uint32_t h,
                        uint32_t s, double *p, double *ds)
{
    *p = exp(score(a, t, h, s) - qt->lse);
    *ds = *p * (dot(qt->dout, kv_row(a, a->v, s, h), a->head_dim) - qt->delta);
}

static void query_gradient(const attention_ref *a, const float *dout, const float *out,
                           const float *lse, float *dq)
{
    double p, ds;
    for (uint32_t t = 0; t < a->n; t++)
        for (uint32_t h = 0; h < a->heads; h++) {
            query_terms qt = terms(a, dout, out, lse, t, h);
            double acc[VKQ_ATTENTION_MAX_HEAD_DIM] = {0};
            for (uint32_t s = (uint32_t)a->starts[t]; s <= t; s++) {
                probability(a, &qt, t, h, s, &p, &ds);
                const float *kr = kv_row(a, a->k, s, h);
                for (uint32_t j = 0; j < a->head_dim; j++)
                    acc[j] += a->scale * ds * kr[j];
            }
            float *g = dq + ((size_t)t * a->heads + h) * a->head_dim;
            for (uint32_t j = 0; j < a->head_dim; j++)
                g[j] += (float)acc[j];
        }
}

/* Key s is seen by the queries t >= s whose sequence starts at or before s. */
static void key_value_gradient(const attention_ref *a, const float *dout, const float *out,
                               const float *lse, float *dk, float *dv)
{
    uint32_t group = a->heads / a->kv_heads;
    double p, ds;
    for (uint32_t s = 0; s < a->n; s++)
        for (uint32_t g = 0; g < a->kv_heads; g++) {
            double acc_k[VKQ_ATTENTION_MAX_HEAD_DIM] = {0}, acc_v[VKQ_ATTENTION_MAX_HEAD_DIM] = {0};
            for (uint32_t t = s; t < a->n && (uint32_t)a->starts[t] <= s; t++)
                for (uint32_t h = g * group; h < (g + 1) * group; h++) {
                    query_terms qt = terms(a, dout, out, lse, t, h);
                    probability(a, &qt, t, h, s, &p, &ds);
                    const float *qr = query_row(a, a->q, t, h);
                    for (uint32_t j = 0; j < a->head_dim; j++) {
                        acc_k[j] += a->scale * ds * qr[j];
                        acc_v[j] += p * qt.dout[j];
                    }
                }
            size_t row = ((size_t)s * a->kv_heads + g) * a->head_dim;
            for (uint32_t j = 0; j < a->head_dim; j++) {
                dk[row + j] += (float)acc_k[j];
                dv[row + j] += (float)acc_v[j];
            }
        }
}

void vkq_ref_attention_backward(const float *dout, const float *q, const float *k, const float *v,
                                const int32_t *starts, const float *out, const float *lse,
                                float *dq, float *dk, float *dv, uint32_t n, uint32_t heads,
                                uint32_t kv_heads, uint32_t head_dim)
{
    attention_ref a = {q, k, v, starts, n, heads, kv_heads, head_dim, 1.0 / sqrt(head_dim)};
    query_gradient(&a, dout, out, lse, dq);
    key_value_gradient(&a, dout, out, lse, dk, dv);
}
