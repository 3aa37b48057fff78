/* The device memory of a model, from one table of buffer sizes (llm.c's
 * fill_in_activation_sizes manner): model.c allocates from these same functions, and the plan
 * adds the kernels' scratch, replayed through the recorder's pool, and the rounding of every
 * buffer to its footprint. */
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"

void vkq_model_layer_sizes(const vkq_llama_config *c, uint64_t t, uint64_t out[LAYER_BUFS])
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t norm = c->qk_norm ? 1 : 0;
    const uint64_t sizes[LAYER_BUFS] = {
        t * m.d,                 /* xn_att [t][D] */
        t,                       /* rstd_att [t] */
        norm * t * m.q_dim,      /* q_raw [t][QD]: before the q norm */
        norm * t * m.kv_dim,     /* k_raw [t][KVD] */
        norm * t * c->n_heads,   /* rstd_q [t][n_heads] */
        norm * t * c->n_kv_heads, /* rstd_k [t][n_kv_heads] */
        t * m.q_dim,             /* q [t][QD] */
        t * m.kv_dim,            /* k [t][KVD] */
        t * m.kv_dim,            /* v [t][KVD] */
        t * m.q_dim,             /* att [t][QD] */
        t * c->n_heads,          /* lse [t][n_heads] */
        t * m.d,                 /* res_mid [t][D] */
        t * m.d,                 /* xn_ffn [t][D] */
        t,                       /* rstd_ffn [t] */
        t * m.h,                 /* h1 [t][H] */
        t * m.h,                 /* h3 [t][H] */
        t * m.h,                 /* hg [t][H] */
    };
    memcpy(out, sizes, sizeof sizes);
}

void vkq_model_work_sizes(const vkq_llama_config *c, uint64_t t, uint64_t r,
                          uint64_t out[WORK_BUFS])
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t norm = c->qk_norm ? 1 : 0;
    const uint64_t sizes[WORK_BUFS] = {
        t * m.d,              /* dres [t][D] */
        t * m.d,              /* dxn [t][D] */
        t * m.q_dim,          /* dq [t][QD] */
        t * m.kv_dim,         /* dk [t][KVD] */
        t * m.kv_dim,         /* dv [t][KVD] */
        norm * t * m.q_dim,   /* dq_raw [t][QD]: before the q norm */
        norm * t * m.kv_dim,  /* dk_raw [t][KVD] */
        t * m.q_dim,          /* datt [t][QD] */
        t * m.h,              /* dh1 [t][H] */
        t * m.h,              /* dh3 [t][H] */
        t * m.h,              /* dhg [t][H] */
        r * m.d,              /* dhsel [r][D] */
    };
    memcpy(out, sizes, sizeof sizes);
}

void vkq_model_outer_sizes(const vkq_llama_config *c, const vkq_model_options *o,
                           uint64_t out[OUTER_BUFS])
{
    uint64_t t = o->max_tokens, r = o->max_rows, d = c->dim, train = o->training ? 1 : 0;
    const uint64_t sizes[OUTER_BUFS] = {
        t,                         /* tokens (int32) */
        t,                         /* starts */
        t,                         /* positions */
        r,                         /* rows */
        t * d,                     /* xn_final [t][D] */
        t,                         /* rstd_final [t] */
        train * t,                 /* emb_positions */
        train * (t + 1),           /* emb_group_start */
        train * t,                 /* emb_group_token */
    };
    memcpy(out, sizes, sizeof sizes);
}

void vkq_model_tensors(const vkq_llama_config *c, const vkq_model_options *o,
                       vkq_llama_tensors *out)
{
    vkq_llama_tensors_of(c, out);
    vkq_llama_tensors_store(out, o->base_dtype);
}

uint32_t vkq_model_kept_layers(const vkq_llama_config *c, const vkq_model_options *o)
{
    return o->recompute ? 1 : c->n_layers;
}

uint64_t vkq_model_attention_kept_bytes(const vkq_llama_config *c, const vkq_model_options *o,
                                        const vkq_scratch_target *t)
{
    if (!o->training)
        return 0;
    return vkq_attention_kept_bytes(t, o->max_tokens, c->n_heads, c->n_kv_heads,
                                    vkq_llama_head_dim(c));
}

uint64_t vkq_model_lora_u_floats(const vkq_llama_config *c, const vkq_model_options *o)
{
    uint64_t targets = (uint64_t)__builtin_popcount(o->lora.targets);
    return (uint64_t)vkq_model_kept_layers(c, o) * targets * o->max_tokens * o->lora.r;
}

void vkq_model_lora_work_floats(const vkq_llama_config *c, const vkq_model_options *o,
                                uint64_t *du, uint64_t *dropped)
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t widest = m.d > m.h ? m.d : m.h;
    widest = widest > m.q_dim ? widest : m.q_dim;
    *du = o->training ? (uint64_t)o->max_tokens * o->lora.r : 0;
    *dropped = o->lora.dropout > 0.0f ? o->max_tokens * widest : 0;
}

uint64_t vkq_model_discard_floats(const vkq_llama_config *c)
{
    uint32_t hd = vkq_llama_head_dim(c);
    return c->dim > hd ? c->dim : hd;
}

void vkq_memory_plan_add(vkq_memory_plan *p, uint64_t *part, uint64_t bytes)
{
    uint64_t footprint = vkq_buf_footprint(bytes), block = vkq_memory_block_bytes();
    *part += bytes;
    p->rounding += footprint - bytes;
    p->total += footprint;
    if (footprint > block)
        p->own_blocks += footprint;
    else
        p->shared_blocks += footprint;
    p->reserved = p->own_blocks + (p->shared_blocks + block - 1) / block * block;
}

static void add_floats(vkq_memory_plan *p, uint64_t *part, const uint64_t *floats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vkq_memory_plan_add(p, part, f32(floats[i]));
}

/* The recorder's scratch pool (vk/recorder.c): a request takes the smallest free buffer that
 * holds it, else a new one; every launcher gives its scratch back when it ends, and the pool
 * lasts until the next recording. */
enum { POOL_MAX = 64, LAUNCH_MAX = 2 };
typedef struct scratch_pool {
    const vkq_scratch_target *target;
    uint64_t size[POOL_MAX];
    int busy[POOL_MAX];
    uint32_t n;
    vkq_memory_plan *plan;
    vkq_dtype weights; /* the base's matrices, the B operand of some products */
} scratch_pool;

/* A buffer for a request of `bytes` (none for 0): its index, or -1. */
static int take(scratch_pool *p, uint64_t bytes)
{
    int best = -1;
    if (!bytes)
        return -1;
    for (uint32_t i = 0; i < p->n; i++)
        if (!p->busy[i] && p->size[i] >= bytes && (best < 0 || p->size[i] < p->size[best]))
            best = (int)i;
    if (best < 0 && p->n < POOL_MAX) {
        best = (int)p->n++;
        p->size[best] = bytes;
        vkq_memory_plan_add(p->plan, &p->plan->scratch, bytes);
    }
    if (best >= 0)
        p->busy[best] = 1;
    return best;
}

static void give_back(scratch_pool *p, int i)
{
    if (i >= 0)
        p->busy[i] = 0;
}

/* One launch's requests, in order; both come back when it ends. Zero bytes: no request. */
static void launch(scratch_pool *p, uint64_t first, uint64_t second)
{
    int a = take(p, first), b = take(p, second);
    give_back(p, a);
    give_back(p, b);
}

/* A product's shape: its form, m, n, k, and whether B is a weight of the base. */
typedef struct shape {
    vkq_matmul_form form;
    uint32_t m, n, k;
    int b_weight;
} shape;

static void scratch_of(scratch_pool *p, shape s, uint64_t bytes[2])
{
    vkq_matmul_args a = {.form = s.form, .m = s.m, .n = s.n, .k = s.k,
                         .type_b = s.b_weight ? p->weights : VKQ_F32};
    vkq_matmul_scratch(p->target, &a, bytes);
}

static void product(scratch_pool *p, shape s)
{
    uint64_t bytes[2];
    scratch_of(p, s, bytes);
    launch(p, bytes[0], bytes[1]);
}

/* An operand packed once (vkq_matmul_pack, for the product m n k): its panels, held. */
typedef struct held {
    int index;
    vkq_matmul_side side;
} held;

static held pack_once(scratch_pool *p, vkq_matmul_side side, shape s)
{
    uint64_t bytes[2];
    scratch_of(p, s, bytes);
    held h = {take(p, bytes[side]), side};
    return h;
}

/* Not packed beforehand: the products that read it pack it themselves. */
static held in_place(vkq_matmul_side side)
{
    held h = {-1, side};
    return h;
}

/* vkq_matmul_packed: packs only the other operand when the held one has panels. */
static void packed_product(scratch_pool *p, const held *h, shape s)
{
    uint64_t bytes[2];
    scratch_of(p, s, bytes);
    if (h->index < 0)
        launch(p, bytes[0], bytes[1]);
    else
        launch(p, bytes[h->side == VKQ_MATMUL_A ? 1 : 0], 0);
}

typedef struct step_shape {
    const vkq_llama_config *c;
    const vkq_model_options *o;
    model_dims m;
    uint32_t t;
} step_shape;

static int adapts(const step_shape *s, vkq_tensor_id id)
{
    return s->o->lora.r && (s->o->lora.targets >> id & 1);
}

static int dropping(const step_shape *s) { return s->o->lora.dropout > 0.0f; }

/* vkq_lora_linear_forward, its input x held */
static void linear_forward(scratch_pool *p, const step_shape *s, const held *x, vkq_tensor_id id,
                           uint32_t in, uint32_t out)
{
    uint32_t r = s->o->lora.r;
    packed_product(p, x, (shape){VKQ_MATMUL_NT, s->t, out, in, 1});
    if (!adapts(s, id))
        return;
    shape down = {VKQ_MATMUL_NT, s->t, r, in, 0};
    if (dropping(s))
        product(p, down);
    else
        packed_product(p, x, down);
    product(p, (shape){VKQ_MATMUL_NT, s->t, out, r, 0});
}

/* model_step.c's linear_forward: an input no other product reads */
static void linear_forward_alone(scratch_pool *p, const step_shape *s, vkq_tensor_id id,
                                 uint32_t in, uint32_t out)
{
    held x = pack_once(p, VKQ_MATMUL_A, (shape){VKQ_MATMUL_NT, s->t, out, in, 1});
    linear_forward(p, s, &x, id, in, out);
    give_back(p, x.index);
}

/* model_step.c's linear_backward, x (the layer input as dW's B operand) held */
static void linear_backward(scratch_pool *p, const step_shape *s, const held *x,
                            vkq_tensor_id id, uint32_t in, uint32_t out)
{
    uint32_t t = s->t, r = s->o->lora.r;
    product(p, (shape){VKQ_MATMUL_NN, t, in, out, 1});
    if (!r) {
        packed_product(p, x, (shape){VKQ_MATMUL_TN, out, in, t, 0});
        return;
    }
    if (!adapts(s, id))
        return;
    product(p, (shape){VKQ_MATMUL_TN, out, r, t, 0});
    product(p, (shape){VKQ_MATMUL_NN, t, r, out, 0});
    shape da = {VKQ_MATMUL_TN, r, in, t, 0};
    if (dropping(s))
        product(p, da);
    else
        packed_product(p, x, da);
    product(p, (shape){VKQ_MATMUL_NN, t, in, r, 0});
}

/* model_step.c's pack_grad_input over the tensors ids */
static held pack_grad_input(scratch_pool *p, const step_shape *s, const vkq_tensor_id *ids,
                            uint32_t n, uint32_t in, uint32_t out)
{
    uint32_t readers = 0;
    for (uint32_t i = 0; i < n; i++)
        readers += !s->o->lora.r || (adapts(s, ids[i]) && !dropping(s));
    if (readers < 2)
        return in_place(VKQ_MATMUL_B);
    return pack_once(p, VKQ_MATMUL_B,
                     (shape){VKQ_MATMUL_TN, s->o->lora.r ? s->o->lora.r : out, in, s->t, 0});
}

static void attention(scratch_pool *p, const step_shape *s, int backward)
{
    uint64_t forward, backward_bytes[2];
    int kept = vkq_model_attention_kept_bytes(s->c, s->o, p->target) > 0;
    vkq_attention_scratch(p->target, s->t, s->c->n_heads, s->c->n_kv_heads, s->m.head_dim, kept,
                          &forward, backward_bytes);
    if (backward)
        launch(p, backward_bytes[0], backward_bytes[1]);
    else
        launch(p, forward, 0);
}

static void rmsnorm_backward(scratch_pool *p, uint32_t rows, uint32_t dim)
{
    launch(p, vkq_rmsnorm_backward_scratch(p->target, rows, dim), 0);
}

/* model_step.c's layer_forward */
static void layer_forward(scratch_pool *p, const step_shape *s, int keep_output)
{
    const model_dims *m = &s->m;
    held xn = pack_once(p, VKQ_MATMUL_A, (shape){VKQ_MATMUL_NT, s->t, m->q_dim, m->d, 1});
    linear_forward(p, s, &xn, VKQ_WQ, m->d, m->q_dim);
    linear_forward(p, s, &xn, VKQ_WK, m->d, m->kv_dim);
    linear_forward(p, s, &xn, VKQ_WV, m->d, m->kv_dim);
    give_back(p, xn.index);
    attention(p, s, 0);
    linear_forward_alone(p, s, VKQ_WO, m->q_dim, m->d);
    xn = pack_once(p, VKQ_MATMUL_A, (shape){VKQ_MATMUL_NT, s->t, m->h, m->d, 1});
    linear_forward(p, s, &xn, VKQ_W1, m->d, m->h);
    linear_forward(p, s, &xn, VKQ_W3, m->d, m->h);
    give_back(p, xn.index);
    if (keep_output || adapts(s, VKQ_W2))
        linear_forward_alone(p, s, VKQ_W2, m->h, m->d);
}

/* model_step.c's layer_backward */
static void layer_backward(scratch_pool *p, const step_shape *s)
{
    static const vkq_tensor_id ffn[] = {VKQ_W1, VKQ_W3}, qkv[] = {VKQ_WQ, VKQ_WK, VKQ_WV};
    const model_dims *m = &s->m;
    const vkq_llama_config *c = s->c;
    held alone = in_place(VKQ_MATMUL_B);
    if (s->o->recompute)
        layer_forward(p, s, 0);
    linear_backward(p, s, &alone, VKQ_W2, m->h, m->d);
    held x = pack_grad_input(p, s, ffn, 2, m->d, m->h);
    linear_backward(p, s, &x, VKQ_W1, m->d, m->h);
    linear_backward(p, s, &x, VKQ_W3, m->d, m->h);
    give_back(p, x.index);
    rmsnorm_backward(p, s->t, m->d);
    linear_backward(p, s, &alone, VKQ_WO, m->q_dim, m->d);
    attention(p, s, 1);
    x = pack_grad_input(p, s, qkv, 3, m->d, m->q_dim);
    if (c->qk_norm)
        rmsnorm_backward(p, s->t * c->n_heads, m->head_dim);
    linear_backward(p, s, &x, VKQ_WQ, m->d, m->q_dim);
    if (c->qk_norm)
        rmsnorm_backward(p, s->t * c->n_kv_heads, m->head_dim);
    linear_backward(p, s, &x, VKQ_WK, m->d, m->kv_dim);
    linear_backward(p, s, &x, VKQ_WV, m->d, m->kv_dim);
    give_back(p, x.index);
    rmsnorm_backward(p, s->t, m->d);
}

/* The classifier's rows in each piece of the base (model_step.c's vkq_model_classify and
 * classifier_backward): the whole vocabulary, or split_rows at a time. */
static uint32_t classifier_piece_rows(const flat_plan *base, uint32_t vocab, uint32_t i)
{
    uint32_t per = base->split_rows[VKQ_WCLS];
    if (!per)
        return vocab;
    return vocab - i * per < per ? vocab - i * per : per;
}

static uint32_t classifier_pieces(const flat_plan *base, uint32_t vocab)
{
    uint32_t per = base->split_rows[VKQ_WCLS];
    return per ? (vocab + per - 1) / per : 1;
}

/* The scratch of one recording at the largest batch: the forward, the loss's request, and when
 * training the backward and AdamW over the pieces of the trainable block. */
static void plan_scratch(const vkq_llama_config *c, const vkq_model_options *o,
                         const vkq_scratch_target *target, uint64_t loss_scratch,
                         const flat_plan *base, const flat_plan *trainable,
                         vkq_memory_plan *plan)
{
    scratch_pool pool = {.target = target, .plan = plan, .weights = o->base_dtype};
    step_shape s = {c, o, {0}, o->max_tokens};
    vkq_model_dims_of(c, &s.m);
    uint32_t rows = o->max_rows, pieces = classifier_pieces(base, s.m.vocab);
    for (uint32_t l = 0; l < c->n_layers; l++)
        layer_forward(&pool, &s, 1);
    for (uint32_t i = 0; i < pieces; i++)
        product(&pool,
                (shape){VKQ_MATMUL_NT, rows, classifier_piece_rows(base, s.m.vocab, i), s.m.d, 1});
    launch(&pool, loss_scratch, 0);
    if (!o->training)
        return;
    for (uint32_t i = 0; i < pieces; i++) {
        uint32_t part = classifier_piece_rows(base, s.m.vocab, i);
        product(&pool, (shape){VKQ_MATMUL_NN, rows, s.m.d, part, 1});
        if (!o->lora.r)
            product(&pool, (shape){VKQ_MATMUL_TN, part, s.m.d, rows, 0});
    }
    rmsnorm_backward(&pool, s.t, s.m.d);
    for (uint32_t l = 0; l < c->n_layers; l++)
        layer_backward(&pool, &s);
    for (uint32_t i = 0; i < trainable->count; i++)
        launch(&pool, vkq_reduce_scratch(target, (uint32_t)(trainable->piece_bytes[i] / 4)), 0);
}

/* One buffer for each piece of a flat block laid out by p, its slices in their dtypes. */
static void add_pieces(vkq_memory_plan *plan, uint64_t *part, const flat_plan *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        vkq_memory_plan_add(plan, part, p->piece_bytes[i]);
}

/* Every buffer the model allocates besides the base weights (model.c's model_init). */
static void plan_buffers(const vkq_llama_config *c, const vkq_model_options *o,
                         const vkq_scratch_target *target, const flat_plan *base,
                         const flat_plan *trainable, vkq_memory_plan *plan)
{
    uint64_t t = o->max_tokens, layer[LAYER_BUFS], work[WORK_BUFS], outer[OUTER_BUFS];
    uint64_t kept = vkq_model_attention_kept_bytes(c, o, target);
    vkq_model_layer_sizes(c, t, layer);
    for (uint32_t l = 0; l < vkq_model_kept_layers(c, o); l++) {
        add_floats(plan, &plan->activations, layer, LAYER_BUFS);
        if (kept)
            vkq_memory_plan_add(plan, &plan->activations, kept);
    }
    for (uint32_t l = 0; l <= c->n_layers; l++)
        add_floats(plan, &plan->activations, &(uint64_t){t * c->dim}, 1);
    vkq_model_outer_sizes(c, o, outer);
    add_floats(plan, &plan->activations, outer, OUTER_BUFS);
    add_floats(plan, &plan->activations, &(uint64_t){vkq_llama_head_dim(c) / 2}, 1); /* RoPE */
    add_floats(plan, &plan->logits, (uint64_t[]){(uint64_t)o->max_rows * c->dim,
                                                (uint64_t)o->max_rows * c->vocab_size,
                                                vkq_logits_part_floats(base, o->max_rows)}, 3);
    if (o->lora.r) {
        uint64_t du, dropped;
        vkq_model_lora_work_floats(c, o, &du, &dropped);
        add_pieces(plan, &plan->adapter, trainable);
        add_floats(plan, &plan->activations, &(uint64_t){vkq_model_lora_u_floats(c, o)}, 1);
        if (du)
            add_floats(plan, &plan->activations, &du, 1);
        if (dropped)
            add_floats(plan, &plan->activations, &dropped, 1);
    }
    if (!o->training)
        return;
    add_pieces(plan, &plan->gradients, trainable);
    add_floats(plan, &plan->gradients, (uint64_t[]){1, 1}, 2); /* grad_sumsq, piece_sumsq */
    if (o->lora.r)
        add_floats(plan, &plan->gradients, &(uint64_t){vkq_model_discard_floats(c)}, 1);
    add_pieces(plan, &plan->optimizer, trainable);
    add_pieces(plan, &plan->optimizer, trainable);
    vkq_model_work_sizes(c, t, o->max_rows, work);
    add_floats(plan, &plan->activations, work, WORK_BUFS);
}


vkq_status vkq_model_memory_plan(const vkq_llama_config *c, const vkq_model_options *o,
                                 const vkq_scratch_target *target, uint64_t loss_scratch,
                                 vkq_memory_plan *plan)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_model_tensors(c, o, &ts);
    vkq_lora_layout_of(c, &o->lora, &lay);
    memset(plan, 0, sizeof *plan);
    flat_plan base, adapter = {0};
    VKQ_TRY(vkq_flat_plan_make(target->max_binding, &ts, &base));
    vkq_status s = o->lora.r ? vkq_flat_plan_lora(target->max_binding, &ts, &o->lora, &lay,
                                                  &adapter)
                             : VKQ_OK;
    if (s == VKQ_OK) {
        add_pieces(plan, &plan->weights, &base);
        plan_buffers(c, o, target, &base, o->lora.r ? &adapter : &base, plan);
        plan_scratch(c, o, target, loss_scratch, &base, o->lora.r ? &adapter : &base, plan);
    }
    vkq_flat_plan_free(&base);
    vkq_flat_plan_free(&adapter);
    return s;
}

void vkq_memory_plan_parts(const vkq_memory_plan *p, const char *names[VKQ_MEMORY_PARTS],
                           uint64_t bytes[VKQ_MEMORY_PARTS])
{
    static const char *const part_names[VKQ_MEMORY_PARTS] = {
        "weights", "adapter", "gradients", "optimiser", "activations",
        "logits",  "loss",    "scratch",   "rounding"};
    const uint64_t values[VKQ_MEMORY_PARTS] = {p->weights,     p->adapter, p->gradients,
                                               p->optimizer,   p->activations, p->logits,
                                               p->loss,        p->scratch, p->rounding};
    memcpy(names, part_names, sizeof part_names);
    memcpy(bytes, values, sizeof values);
}

void vkq_memory_plan_describe(const vkq_memory_plan *p, char *text, size_t size)
{
    const char *names[VKQ_MEMORY_PARTS];
    uint64_t bytes[VKQ_MEMORY_PARTS];
    vkq_memory_plan_parts(p, names, bytes);
    size_t used = (size_t)snprintf(text, size, "%.1f MiB (", p->total / 1048576.0);
    const char *sep = "";
    for (size_t i = 0; i < VKQ_MEMORY_PARTS && used < size; i++) {
        if (!bytes[i])
            continue;
        used += (size_t)snprintf(text + used, size - used, "%s%s %.1f", sep, names[i],
                                 bytes[i] / 1048576.0);
        sep = ", ";
    }
    if (used < size)
        snprintf(text + used, size - used, ")");
}

uint64_t vkq_memory_heap_for(const vkq_device_info *d)
{
    uint64_t largest = 0;
    for (uint32_t i = 0; i < d->heap_count; i++)
        if (d->heap_size[i] > largest && (d->heap_device_local[i] || d->heap_count == 1))
            largest = d->heap_size[i];
    return largest;
}
