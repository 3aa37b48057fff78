/* Hugging Face config.json (then the context check a model load makes) and
 * generation_config.json, from the same bytes. */
#include "fuzz.h"
#include "vkquill/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    vkq_hf_config c;
    if (vkq_hf_config_parse("config.json", text, size, &c) == VKQ_OK)
        (void)vkq_hf_config_check_context(&c, "config.json", 2048);
    vkq_hf_tokens tokens;
    (void)vkq_hf_generation_parse("generation_config.json", text, size, &tokens);
    return 0;
}
