#include "compare.h"

double vkq_nmse(const float *got, const float *want, size_t n)
{
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        err += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        norm += (double)want[i] * want[i];
    }
    return err / norm;
}

vkq_tensor_error vkq_worst_tensor(const vkq_llama_layout *l, const float *got,
                                  const float *want)
{
    static const char *const names[] = {"tok_emb", "rms_att", "wq", "wk", "wv", "wo",
                                        "rms_ffn", "w1", "w2", "w3", "rms_final", "wcls"};
    size_t classifier = l->wcls > l->rms_final ? l->wcls : l->total; /* shared: at tok_emb */
    size_t bounds[] = {l->tok_emb, l->rms_att, l->wq, l->wk, l->wv, l->wo, l->rms_ffn,
                       l->w1, l->w2, l->w3, l->rms_final, classifier, l->total};
    vkq_tensor_error worst = {names[0], 0.0};
    for (size_t i = 0; i + 1 < sizeof bounds / sizeof bounds[0]; i++) {
        if (bounds[i + 1] == bounds[i])
            continue; /* no wcls when the classifier is shared */
        double e = vkq_nmse(got + bounds[i], want + bounds[i], bounds[i + 1] - bounds[i]);
        if (!(e <= worst.nmse)) /* NaN counts as worst */
            worst = (vkq_tensor_error){names[i], e};
    }
    return worst;
}
