#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

typedef struct decode_case {
    uint32_t n, slots, seq_len, heads, kv_heads, head_dim;
} decode_case;

static const decode_case cases[] = {
    {1, 1, 1, 1, 1, 2}, {3, 4, 9, 8, 4, 8}, {5, 5, 17, 4, 1, 16}, {2, 3, 40, 6, 3, 6},
    {7, 3, 150, 4, 2, 32},
};

static vkq_status run_case(vkq_check_env *e, const decode_case *c)
{
    size_t nq = (size_t)c->n * c->heads * c->head_dim;
    size_t rows = (size_t)c->slots * c->seq_len, nkv = rows * c->kv_heads * c->head_dim;
    float *q = vkq_check_floats(e, nq), *k = vkq_check_floats(e, nkv);
    float *v = vkq_check_floats(e, nkv), *want = vkq_check_floats(e, nq);
    float *got = vkq_check_floats(e, nq);
    if (!q || !k || !v || !want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, q, nq, -2.0f, 2.0f);
    vkq_check_random(e, k, nkv, -2.0f, 2.0f);
    vkq_check_random(e, v, nkv, -1.0f, 1.0f);
    /* Sequences in scattered slots, with lengths from 1 to the whole cache. */
    int32_t bases[8], lengths[8];
    for (uint32_t i = 0; i < c->n; i++) {
        bases[i] = (int32_t)(((i * 3 + 1) % c->slots) * c->seq_len);
        lengths[i] = (int32_t)(1 + (i * 7) % c->seq_len);
    }
    lengths[c->n - 1] = (int32_t)c->seq_len;

    vkq_buf dq, dk, dv, dbases, dlengths;
    vkq_guarded out;
    VKQ_TRY(vkq_check_input(e, q, nq, &dq));
    VKQ_TRY(vkq_check_input(e, k, nkv, &dk));
    VKQ_TRY(vkq_check_input(e, v, nkv, &dv));
    VKQ_TRY(vkq_check_input_ints(e, bases, c->n, &dbases));
    VKQ_TRY(vkq_check_input_ints(e, lengths, c->n, &dlengths));
    VKQ_TRY(vkq_check_output(e, NULL, nq, &out));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_attention_decode(e->rec, dq, dk, dv, dbases, dlengths, out.view, c->n,
                                 (uint32_t)rows, c->heads, c->kv_heads, c->head_dim));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_attention_decode(q, k, v, bases, lengths, want, c->n, c->heads, c->kv_heads,
                             c->head_dim);
    int guards;
    VKQ_TRY(vkq_check_read(e, &out, got, &guards));
    char name[96];
    snprintf(name, sizeof name, "n=%u slots=%u seq_len=%u heads=%u/%u head_dim=%u", c->n,
             c->slots, c->seq_len, c->heads, c->kv_heads, c->head_dim);
    vkq_check_emit(e, name, vkq_nmse(got, want, nq), 1e-10, guards);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_attention_decode(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
