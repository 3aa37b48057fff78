/* Weights read tensor by tensor from any source: a flat block, or a file loader. */
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "vkquill/llama.h"

static vkq_status read_flat(void *user, vkq_tensor_id id, size_t first, size_t n, float *out)
{
    const vkq_flat_weights *f = user;
    memcpy(out, f->params + f->tensors.t[id].offset + first, n * sizeof *out);
    return VKQ_OK;
}

vkq_tensor_source vkq_flat_source(vkq_flat_weights *f, const vkq_llama_config *c,
                                  const float *params)
{
    vkq_llama_tensors_of(c, &f->tensors);
    f->params = params;
    return (vkq_tensor_source){read_flat, f};
}

vkq_status vkq_tensor_source_each_piece(const vkq_llama_config *c, const vkq_tensor_source *src,
                                        size_t max_floats, vkq_piece_fn fn, void *user)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    float *piece = malloc(max_floats * sizeof *piece);
    if (!piece)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory for a %zu-float piece",
                        max_floats);
    vkq_status s = VKQ_OK;
    for (int i = 0; i < VKQ_TENSOR_COUNT && s == VKQ_OK; i++) {
        size_t total = vkq_tensor_floats(&ts, (vkq_tensor_id)i);
        for (size_t first = 0; first < total && s == VKQ_OK; first += max_floats) {
            size_t n = total - first < max_floats ? total - first : max_floats;
            s = src->read(src->user, (vkq_tensor_id)i, first, n, piece);
            if (s == VKQ_OK)
                s = fn(user, (vkq_tensor_id)i, ts.t[i].offset + first, piece, n);
        }
    }
    free(piece);
    return s;
}

static vkq_status store_piece(void *user, vkq_tensor_id id, size_t offset, const float *piece,
                              size_t n)
{
    (void)id;
    memcpy((float *)user + offset, piece, n * sizeof *piece);
    return VKQ_OK;
}

vkq_status vkq_tensor_source_read_all(const vkq_llama_config *c, const vkq_tensor_source *src,
                                      float **params)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    float *p = malloc((ts.total ? ts.total : 1) * sizeof *p);
    if (!p)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of parameters",
                        ts.total * sizeof *p);
    vkq_status s = vkq_tensor_source_each_piece(c, src, 1u << 20, store_piece, p);
    if (s != VKQ_OK) {
        free(p);
        return s;
    }
    *params = p;
    return VKQ_OK;
}
