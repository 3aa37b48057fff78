/* Training configurations (JSON), then the check every loaded configuration goes through. */
#include "fuzz.h"
#include "vkquill/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkq_train_config c;
    vkq_train_config_defaults(&c);
    if (vkq_train_config_load(&c, fuzz_file(0, data, size)) == VKQ_OK)
        (void)vkq_train_config_check(&c);
    return 0;
}
