/* The adapters' share of a linear layer's forward and backward (PEFT's formula):
 *   u = dropout(x) A^T,  y += s u B^T,  s = alpha / r
 *   dB += s dy^T u,  du = s dy B,  dA += du^T dropout(x),  dx += dropout'(du A)
 * The dropout mask is a pure function of the micro-batch key, layer and tensor, so the backward
 * regenerates it rather than keeping it. */
#include "model/model_internal.h"

static uint32_t slot_of(const lora_run *lr, vkq_tensor_id id)
{
    return (uint32_t)__builtin_popcount(lr->opt.targets & ((1u << id) - 1u));
}

static vkq_buf u_buf(const lora_run *lr, vkq_tensor_id id, uint32_t l, uint32_t rows)
{
    uint64_t per = (uint64_t)lr->max_tokens * lr->opt.r;
    uint64_t index = (uint64_t)(lr->one_layer ? 0 : l) * lr->n_targets + slot_of(lr, id);
    return vkq_buf_slice(lr->u, f32(index * per), f32((uint64_t)rows * lr->opt.r));
}

/* Layer l's A [r][in] and B [out][r] of tensor id in an adapter block or its gradients. */
static vkq_buf a_buf(const flat_block *block, vkq_tensor_id id, uint32_t l)
{
    return vkq_flat_slice(block, block->plan->first_slice[id] + l);
}

static vkq_buf b_buf(const flat_block *block, vkq_tensor_id id, uint32_t l)
{
    uint32_t layers = block->plan->tensors.t[id].layers;
    return vkq_flat_slice(block, block->plan->first_slice[id] + layers + l);
}

static uint32_t dropout_key(const lora_run *lr, vkq_tensor_id id, uint32_t l)
{
    return lr->key + 0x9e3779b9u * (l * VKQ_TENSOR_COUNT + (uint32_t)id + 1u);
}

static int dropping(const lora_run *lr) { return lr->dropout_on && lr->opt.dropout > 0.0f; }

/* The adapter's input: x itself, or its dropout in the workspace. */
static vkq_status adapter_input(vkq_rec *rec, const lora_run *lr, vkq_tensor_id id, uint32_t l,
                                vkq_buf x, uint32_t rows, uint32_t in, vkq_buf *xd)
{
    if (!dropping(lr)) {
        *xd = x;
        return VKQ_OK;
    }
    uint32_t n = rows * in;
    *xd = vkq_buf_slice(lr->dropped, 0, f32(n));
    return vkq_dropout_forward(rec, x, *xd, n, lr->opt.dropout, dropout_key(lr, id, l));
}

static vkq_status product(vkq_rec *rec, vkq_matmul_form form, uint32_t m, uint32_t n,
                          uint32_t k, float alpha, float beta, vkq_buf a, vkq_buf b, vkq_buf c)
{
    vkq_matmul_args args = {.form = form, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta};
    return vkq_matmul(rec, &args, a, b, c);
}

/* u = x A^T, through x's panels when x itself is the adapter's input. */
static vkq_status adapter_down(vkq_rec *rec, const lora_run *lr, vkq_tensor_id id, uint32_t l,
                               const vkq_packed *x, vkq_buf u, uint32_t rows, uint32_t in)
{
    vkq_matmul_args args = {.form = VKQ_MATMUL_NT, .m = rows, .n = lr->opt.r, .k = in,
                            .alpha = 1.0f};
    if (!dropping(lr))
        return vkq_matmul_packed(rec, &args, x, a_buf(&lr->adapter, id, l), u);
    vkq_buf xd;
    VKQ_TRY(adapter_input(rec, lr, id, l, x->source, rows, in, &xd));
    return vkq_matmul(rec, &args, xd, a_buf(&lr->adapter, id, l), u);
}

vkq_status vkq_lora_linear_forward(vkq_rec *rec, const lora_run *lr, vkq_tensor_id id,
                                   uint32_t l, const vkq_packed *x, weight_buf w, vkq_buf y,
                                   uint32_t rows, uint32_t in, uint32_t out, float beta)
{
    VKQ_TRY(vkq_model_linear_packed(rec, x, w, y, rows, in, out, beta));
    if (!lora_adapts(lr, id) || !lr->enabled)
        return VKQ_OK;
    uint32_t r = lr->opt.r;
    vkq_buf u = u_buf(lr, id, l, rows);
    VKQ_TRY(adapter_down(rec, lr, id, l, x, u, rows, in));
    return product(rec, VKQ_MATMUL_NT, rows, out, r, vkq_lora_scale(&lr->opt), 1.0f, u,
                   b_buf(&lr->adapter, id, l), y);
}

vkq_status vkq_lora_linear_backward(vkq_rec *rec, const lora_run *lr, vkq_tensor_id id,
                                    uint32_t l, const vkq_packed *x, vkq_buf dy, vkq_buf dx,
                                    uint32_t rows, uint32_t in, uint32_t out)
{
    if (!lora_adapts(lr, id))
        return VKQ_OK;
    uint32_t r = lr->opt.r;
    float scale = vkq_lora_scale(&lr->opt);
    vkq_buf u = u_buf(lr, id, l, rows), du = vkq_buf_slice(lr->du, 0, f32(rows * r));
    VKQ_TRY(product(rec, VKQ_MATMUL_TN, out, r, rows, scale, 1.0f, dy, u,
                    b_buf(lr->grads, id, l)));
    VKQ_TRY(product(rec, VKQ_MATMUL_NN, rows, r, out, scale, 0.0f, dy,
                    b_buf(&lr->adapter, id, l), du));
    vkq_matmul_args da = {.form = VKQ_MATMUL_TN, .m = r, .n = in, .k = rows, .alpha = 1.0f,
                          .beta = 1.0f};
    vkq_buf a = a_buf(&lr->adapter, id, l);
    if (!dropping(lr)) {
        VKQ_TRY(vkq_matmul_packed(rec, &da, x, du, a_buf(lr->grads, id, l)));
        return product(rec, VKQ_MATMUL_NN, rows, in, r, 1.0f, 1.0f, du, a, dx);
    }
    vkq_buf xd;
    VKQ_TRY(adapter_input(rec, lr, id, l, x->source, rows, in, &xd));
    VKQ_TRY(vkq_matmul(rec, &da, du, xd, a_buf(lr->grads, id, l)));
    /* the dropped input is spent: its workspace takes du A before the mask */
    VKQ_TRY(product(rec, VKQ_MATMUL_NN, rows, in, r, 1.0f, 0.0f, du, a, xd));
    return vkq_dropout_backward(rec, xd, dx, rows * in, lr->opt.dropout, dropout_key(lr, id, l));
}
