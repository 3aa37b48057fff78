#include <stdio.h>

#include "base/status_internal.h"
#include "vkquill/hf_names.h"

static const char *const names[VKQ_TENSOR_COUNT] = {
    [VKQ_TOK_EMB] = "model.embed_tokens.weight",
    [VKQ_RMS_ATT] = "input_layernorm.weight",
    [VKQ_WQ] = "self_attn.q_proj.weight",
    [VKQ_WK] = "self_attn.k_proj.weight",
    [VKQ_WV] = "self_attn.v_proj.weight",
    [VKQ_BQ] = "self_attn.q_proj.bias",
    [VKQ_BK] = "self_attn.k_proj.bias",
    [VKQ_BV] = "self_attn.v_proj.bias",
    [VKQ_Q_NORM] = "self_attn.q_norm.weight",
    [VKQ_K_NORM] = "self_attn.k_norm.weight",
    [VKQ_WO] = "self_attn.o_proj.weight",
    [VKQ_RMS_FFN] = "post_attention_layernorm.weight",
    [VKQ_W1] = "mlp.gate_proj.weight",
    [VKQ_W2] = "mlp.down_proj.weight",
    [VKQ_W3] = "mlp.up_proj.weight",
    [VKQ_RMS_FINAL] = "model.norm.weight",
    [VKQ_WCLS] = "lm_head.weight",
};

static int per_layer(vkq_tensor_id id)
{
    return id != VKQ_TOK_EMB && id != VKQ_RMS_FINAL && id != VKQ_WCLS;
}

int vkq_hf_tensor_name(vkq_tensor_id id, uint32_t l, char *name, size_t size)
{
    int n = per_layer(id) ? snprintf(name, size, "model.layers.%u.%s", l, names[id])
                          : snprintf(name, size, "%s", names[id]);
    return n > 0 && (size_t)n < size;
}

vkq_status vkq_hf_each_tensor(const vkq_llama_config *c, vkq_hf_tensor_fn fn, void *user)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    char name[128];
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        const vkq_tensor *t = &ts.t[i];
        if (vkq_tensor_floats(&ts, (vkq_tensor_id)i) == 0)
            continue;
        for (uint32_t l = 0; l < t->layers; l++) {
            vkq_hf_tensor_name((vkq_tensor_id)i, l, name, sizeof name);
            VKQ_TRY(fn(user, name, vkq_tensor_at(t, l), t));
        }
    }
    return VKQ_OK;
}
