#include "compare.h"

vkq_tensor_error vkq_worst_tensor(const vkq_llama_tensors *ts, const float *got,
                                  const float *want)
{
    vkq_tensor_error worst = {ts->t[0].name, 0.0};
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        size_t at = ts->t[i].offset, n = vkq_tensor_floats(ts, (vkq_tensor_id)i);
        if (n == 0)
            continue; /* absent from this architecture, or the shared classifier */
        double e = vkq_nmse(got + at, want + at, n);
        if (!(e <= worst.nmse)) /* NaN counts as worst */
            worst = (vkq_tensor_error){ts->t[i].name, e};
    }
    return worst;
}
