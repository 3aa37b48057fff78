/* The adapter block on the host: target names, layout, PEFT's initialisation, merging. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/status_internal.h"
#include "vkquill/lora.h"

static const struct {
    const char *name, *module;
    vkq_tensor_id id;
} targets[VKQ_LORA_TARGET_COUNT] = {
    {"q", "self_attn.q_proj", VKQ_WQ},  {"k", "self_attn.k_proj", VKQ_WK},
    {"v", "self_attn.v_proj", VKQ_WV},  {"o", "self_attn.o_proj", VKQ_WO},
    {"gate", "mlp.gate_proj", VKQ_W1}, {"up", "mlp.up_proj", VKQ_W3},
    {"down", "mlp.down_proj", VKQ_W2},
};

const char *vkq_lora_target_name(unsigned i) { return targets[i].name; }
vkq_tensor_id vkq_lora_target_tensor(unsigned i) { return targets[i].id; }
const char *vkq_lora_target_module(unsigned i) { return targets[i].module; }

vkq_status vkq_lora_parse_targets(const char *list, uint32_t *out)
{
    *out = 0;
    if (strcmp(list, "all-linear") == 0) {
        for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++)
            *out |= 1u << targets[i].id;
        return VKQ_OK;
    }
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        unsigned i = 0;
        while (i < VKQ_LORA_TARGET_COUNT &&
               (strlen(targets[i].name) != len || strncmp(targets[i].name, p, len) != 0))
            i++;
        if (i == VKQ_LORA_TARGET_COUNT)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "lora targets: '%.*s' is not one of q, k, "
                            "v, o, gate, up, down (or all-linear)", (int)len, p);
        *out |= 1u << targets[i].id;
        if (!p[len])
            return VKQ_OK;
        p += len + 1;
    }
}

vkq_status vkq_lora_check(const vkq_lora_options *o)
{
    if (o->r == 0)
        return VKQ_OK;
    if (o->r > 4096 || !(o->alpha > 0) || !isfinite(o->alpha))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "lora: the rank must be at most 4096 and alpha "
                        "positive (r %u, alpha %g)", o->r, o->alpha);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "lora: dropout must be in [0, 1), not %g",
                        o->dropout);
    if (!o->targets)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "lora: no target layers");
    return VKQ_OK;
}

void vkq_lora_layout_of(const vkq_llama_config *c, const vkq_lora_options *o,
                        vkq_lora_layout *out)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        const vkq_tensor *t = &ts.t[targets[i].id];
        if (!(o->targets >> targets[i].id & 1))
            continue;
        out->a[targets[i].id] = out->total;
        out->total += (size_t)t->layers * o->r * t->cols;
        out->b[targets[i].id] = out->total;
        out->total += (size_t)t->layers * t->rows * o->r;
    }
}

static uint64_t next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 11;
}

void vkq_lora_init(const vkq_llama_config *c, const vkq_lora_options *o, uint64_t seed,
                   float *adapter)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_llama_tensors_of(c, &ts);
    vkq_lora_layout_of(c, o, &lay);
    memset(adapter, 0, lay.total * sizeof *adapter);
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 0x10a;
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        const vkq_tensor *t = &ts.t[targets[i].id];
        if (!(o->targets >> targets[i].id & 1))
            continue;
        double bound = 1.0 / sqrt((double)t->cols);
        size_t n = (size_t)t->layers * o->r * t->cols;
        for (size_t k = 0; k < n; k++)
            adapter[lay.a[targets[i].id] + k] =
                (float)(bound * (2.0 * (double)next(&state) / 9007199254740992.0 - 1.0));
    }
}

void vkq_lora_merge(const vkq_llama_config *c, const vkq_lora_options *o, const float *adapter,
                    float *params)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_llama_tensors_of(c, &ts);
    vkq_lora_layout_of(c, o, &lay);
    double scale = vkq_lora_scale(o);
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        vkq_tensor_id id = targets[i].id;
        const vkq_tensor *t = &ts.t[id];
        if (!(o->targets >> id & 1))
            continue;
        for (uint32_t l = 0; l < t->layers; l++) {
            const float *a = adapter + lay.a[id] + (size_t)l * o->r * t->cols;
            const float *b = adapter + lay.b[id] + (size_t)l * t->rows * o->r;
            float *w = params + vkq_tensor_at(t, l);
            for (uint32_t row = 0; row < t->rows; row++)
                for (uint32_t col = 0; col < t->cols; col++) {
                    double acc = 0.0;
                    for (uint32_t k = 0; k < o->r; k++)
                        acc += (double)b[(size_t)row * o->r + k] * a[(size_t)k * t->cols + col];
                    w[(size_t)row * t->cols + col] += (float)(scale * acc);
                }
        }
    }
}
