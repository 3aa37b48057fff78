/* PEFT adapter directories: the input up to its first NUL is adapter_config.json, the rest
 * adapter_model.safetensors, read for one small model (2 layers, width 8, feed-forward 12,
 * 2 query heads over 1 key-value head). The seeds are vkq_peft_write's output for it. The
 * directory is made once under /tmp and removed at exit. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vkquill/peft.h"

static char dir[] = "/tmp/vkq-fuzz-peft-XXXXXX";
static char config_path[64], tensors_path[64];

static void remove_dir(void)
{
    unlink(config_path);
    unlink(tensors_path);
    rmdir(dir);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, size, 1, f) != 1) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!config_path[0]) {
        if (!mkdtemp(dir)) {
            perror(dir);
            abort();
        }
        snprintf(config_path, sizeof config_path, "%s/adapter_config.json", dir);
        snprintf(tensors_path, sizeof tensors_path, "%s/adapter_model.safetensors", dir);
        atexit(remove_dir);
    }
    const uint8_t *cut = memchr(data, 0, size);
    size_t config_size = cut ? (size_t)(cut - data) : size;
    write_file(config_path, data, config_size);
    write_file(tensors_path, data + config_size + (cut != NULL),
               size - config_size - (cut != NULL));
    static const vkq_llama_config model = {
        .dim = 8, .hidden_dim = 12, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
        .vocab_size = 16, .seq_len = 16, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
        .bos_id = -1, .pad_id = -1};
    vkq_peft_adapter adapter;
    if (vkq_peft_read(dir, &model, &adapter) == VKQ_OK)
        vkq_peft_free(&adapter);
    return 0;
}
