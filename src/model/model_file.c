#include "vkquill/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/status_internal.h"
#include "vkquill/hf_model.h"
#include "vkquill/llama2c.h"

struct vkq_model_file {
    char *path;
    vkq_hf_model *hf;
    vkq_llama2c_file *llama2c;
};

int vkq_model_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *vkq_model_tokenizer_path(const char *model, const char *tokenizer)
{
    if (tokenizer && tokenizer[0])
        return tokenizer;
    return model && vkq_model_path_is_dir(model) ? model : NULL;
}

vkq_status vkq_model_file_open(const char *path, vkq_model_file **out)
{
    *out = NULL;
    vkq_model_file *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    vkq_status s = vkq_model_path_is_dir(path) ? vkq_hf_model_open(path, &m->hf)
                                               : vkq_llama2c_open(path, &m->llama2c);
    if (s != VKQ_OK) {
        vkq_model_file_close(m);
        return s;
    }
    *out = m;
    return VKQ_OK;
}

void vkq_model_file_close(vkq_model_file *m)
{
    if (!m)
        return;
    vkq_hf_model_close(m->hf);
    vkq_llama2c_close(m->llama2c);
    free(m->path);
    free(m);
}

const vkq_llama_config *vkq_model_file_config(const vkq_model_file *m)
{
    return m->hf ? vkq_hf_model_config(m->hf) : vkq_llama2c_config(m->llama2c);
}

vkq_tensor_source vkq_model_file_weights(vkq_model_file *m)
{
    return m->hf ? vkq_hf_model_weights(m->hf) : vkq_llama2c_weights(m->llama2c);
}

int vkq_model_file_is_hf(const vkq_model_file *m) { return m->hf != NULL; }

vkq_st_dtype vkq_model_file_dtype(const vkq_model_file *m)
{
    return m->hf ? vkq_hf_model_dtype(m->hf) : VKQ_ST_F32;
}

vkq_dtype vkq_model_file_device_dtype(const vkq_model_file *m)
{
    return vkq_st_device_dtype(vkq_model_file_dtype(m));
}

vkq_status vkq_model_file_write_like(const vkq_model_file *m, const char *path,
                                     const float *params, char *written, size_t size)
{
    int n = snprintf(written, size, "%s%s", path, m->hf ? "" : ".bin");
    if (n < 0 || (size_t)n >= size)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    const vkq_llama_config *c = vkq_model_file_config(m);
    if (m->hf)
        return vkq_hf_model_write(written, c, params, vkq_hf_model_dtype(m->hf), m->path);
    return vkq_llama2c_write(written, c, params);
}
