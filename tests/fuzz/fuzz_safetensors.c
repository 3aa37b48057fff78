/* safetensors files: the header JSON, the offsets and shapes, then every tensor's first
 * elements converted to fp32. */
#include "fuzz.h"
#include "vkquill/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkq_st_file *f = NULL;
    if (vkq_st_parse("fuzz.safetensors", data, size, &f) != VKQ_OK)
        return 0;
    for (size_t i = 0; i < vkq_st_count(f); i++) {
        const vkq_st_tensor *t = vkq_st_at(f, i);
        float head[4];
        size_t n = t->count < 4 ? (size_t)t->count : 4;
        (void)vkq_st_to_f32(t, 0, n, head);
    }
    (void)vkq_st_metadata(f, "format");
    vkq_st_close(f);
    return 0;
}
