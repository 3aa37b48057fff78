#include <math.h>
#include <stddef.h>

#include "kernels/reference.h"

/* What the loss needs of one token, in double. */
typedef struct token {
    int valid;
    int32_t y;
    double dce, weight, nll, term;
    double lse_h, lse_d, lse_ref;
} token;

/* log sum_j exp(a[j] - b[j]); b NULL: log sum_j exp(a[j]). */
static double logsumexp(const float *a, const float *b, uint32_t vocab)
{
    double m = -INFINITY, s = 0.0;
    for (uint32_t j = 0; j < vocab; j++)
        m = fmax(m, (double)a[j] - (b ? b[j] : 0.0));
    for (uint32_t j = 0; j < vocab; j++)
        s += exp((double)a[j] - (b ? b[j] : 0.0) - m);
    return m + log(s);
}

/* sum_v p log(p/m) + q log(q/m), m = (p + q) / 2, p = softmax(zh), q = softmax(z0). */
static double js_weight(const float *zh, const float *z0, double lse_h, double lse_0,
                        uint32_t vocab)
{
    double w = 0.0;
    for (uint32_t j = 0; j < vocab; j++) {
        double p = exp(zh[j] - lse_h), q = exp(z0[j] - lse_0), m = 0.5 * (p + q);
        w += (p > 0.0 ? p * log(p / m) : 0.0) + (q > 0.0 ? q * log(q / m) : 0.0);
    }
    return w;
}

/* KL(softmax(rh - r0) || softmax(zh - z0)). */
static double kl_term(const float *zh, const float *z0, const float *rh, const float *r0,
                      double lse_d, double lse_ref, uint32_t vocab)
{
    double kl = 0.0;
    for (uint32_t j = 0; j < vocab; j++) {
        double log_q = (double)rh[j] - r0[j] - lse_ref, log_s = (double)zh[j] - z0[j] - lse_d;
        kl += exp(log_q) * (log_q - log_s);
    }
    return kl;
}

static double raw_weight(const vkq_causal_loss_args *a, const token *t, const float *zh,
                         const float *z0, double lse_0)
{
    if (a->weighting == VKQ_WEIGHTS_THRESHOLD)
        return t->dce > a->delta ? a->lambda : a->eps;
    if (a->weighting == VKQ_WEIGHTS_JS)
        return js_weight(zh, z0, t->lse_h, lse_0, a->vocab);
    return 1.0;
}

static token token_of(const vkq_causal_loss_args *a, const float *logits, const int32_t *targets,
                      const float *dce, const float *ref_logits, uint32_t r)
{
    token t = {0};
    uint32_t v = a->vocab;
    t.y = targets[r];
    if (t.y < 0 || (uint32_t)t.y >= v)
        return t;
    t.valid = 1;
    const float *zh = logits + (size_t)r * v, *z0 = logits + ((size_t)a->rows + r) * v;
    t.lse_h = logsumexp(zh, NULL, v);
    double lse_0 = logsumexp(z0, NULL, v);
    t.lse_d = logsumexp(zh, z0, v);
    t.dce = a->dce_fixed ? dce[r] : exp(zh[t.y] - t.lse_h) - exp(z0[t.y] - lse_0);
    t.weight = raw_weight(a, &t, zh, z0, lse_0);
    t.nll = t.lse_h - zh[t.y];
    if (a->align == VKQ_ALIGN_CE) {
        t.term = t.lse_d - ((double)zh[t.y] - z0[t.y]);
    } else if (a->align == VKQ_ALIGN_KL) {
        const float *rh = ref_logits + (size_t)r * v, *r0 = ref_logits + ((size_t)a->rows + r) * v;
        t.lse_ref = logsumexp(rh, r0, v);
        t.term = kl_term(zh, z0, rh, r0, t.lse_d, t.lse_ref, v);
    }
    return t;
}

/* Both gradient rows of a valid token. */
static void token_gradient(const vkq_causal_loss_args *a, const token *t, const float *zh,
                           const float *z0, const float *rh, const float *r0, double w_hat,
                           double c, float *gh, float *g0)
{
    double scale_n = a->grad_scale * w_hat, scale_p = a->grad_scale * a->alpha * c;
    for (uint32_t j = 0; j < a->vocab; j++) {
        double hot = j == (uint32_t)t->y, s_minus_q = 0.0;
        if (a->align != VKQ_ALIGN_NONE) {
            double q = a->align == VKQ_ALIGN_KL ? exp((double)rh[j] - r0[j] - t->lse_ref) : hot;
            s_minus_q = exp((double)zh[j] - z0[j] - t->lse_d) - q;
        }
        gh[j] = (float)(scale_n * (exp(zh[j] - t->lse_h) - hot) + scale_p * s_minus_q);
        g0[j] = (float)(-scale_p * s_minus_q);
    }
}

void vkq_ref_causal_loss(const vkq_causal_loss_args *a, const float *logits,
                         const int32_t *targets, const float *dce, const float *ref_logits,
                         float *stats, float *totals, float *dlogits)
{
    double sum_w = 0.0, valid = 0.0, above = 0.0;
    for (uint32_t r = 0; r < a->rows; r++) { /* the normalisers first */
        token t = token_of(a, logits, targets, dce, ref_logits, r);
        sum_w += t.weight;
        valid += t.valid;
        above += t.valid && t.dce > a->delta;
    }
    double weight_scale = sum_w > 0.0 ? 1.0 / sum_w : 0.0;
    double count_scale = valid > 0.0 ? 1.0 / valid : 0.0;
    double loss_n = 0.0, loss_p = 0.0;
    size_t v = a->vocab, half = (size_t)a->rows * v;
    for (uint32_t r = 0; r < a->rows; r++) {
        token t = token_of(a, logits, targets, dce, ref_logits, r);
        double w_hat = t.weight * weight_scale;
        double c = a->align_weighted ? w_hat : t.valid * count_scale;
        double row[4] = {t.dce, w_hat, w_hat * t.nll, c * t.term};
        for (int k = 0; k < 4; k++)
            stats[4 * r + k] = (float)row[k];
        loss_n += row[2];
        loss_p += row[3];
        float *gh = dlogits + r * v, *g0 = dlogits + half + r * v;
        for (size_t j = 0; !t.valid && j < v; j++)
            gh[j] = g0[j] = 0.0f;
        if (t.valid)
            token_gradient(a, &t, logits + r * v, logits + half + r * v,
                           ref_logits ? ref_logits + r * v : NULL,
                           ref_logits ? ref_logits + half + r * v : NULL, w_hat, c, gh, g0);
    }
    totals[0] = (float)loss_n;
    totals[1] = (float)loss_p;
    totals[2] = (float)(loss_n + a->alpha * loss_p);
    totals[3] = (float)(above * count_scale);
}

void vkq_ref_causal_dce(const float *ref_logits, const int32_t *targets, float *dce,
                        uint32_t rows, uint32_t vocab)
{
    vkq_causal_loss_args a = {.rows = rows, .vocab = vocab};
    for (uint32_t r = 0; r < rows; r++)
        dce[r] = (float)token_of(&a, ref_logits, targets, NULL, NULL, r).dce;
}
