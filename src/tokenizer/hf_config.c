/* tokenizer_config.json: the BOS and EOS tokens and the chat template. The file is optional;
 * a tokenizer without it has neither BOS, EOS nor chat template. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/text.h"
#include "tokenizer/hf_internal.h"

static const cJSON *field(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

/* A special token as a string or as {"content": "..."}; absent or null gives -1. */
static vkq_status special_token(const vkq_hf *t, const char *path, const cJSON *config,
                                const char *key, int32_t *id)
{
    *id = -1;
    const cJSON *v = field(config, key);
    if (!v || cJSON_IsNull(v))
        return VKQ_OK;
    const cJSON *content = cJSON_IsObject(v) ? field(v, "content") : v;
    if (!cJSON_IsString(content))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" must be a string, an object with a "
                        "\"content\" string, or null", path, key);
    *id = vkq_str_map_get(&t->vocab, content->valuestring, strlen(content->valuestring));
    if (*id < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s \"%s\" is not in the tokenizer's vocabulary",
                        path, key, content->valuestring);
    return VKQ_OK;
}

/* A string, or a list of {"name", "template"} of which the one named "default". */
static vkq_status chat_template(const char *path, const cJSON *config, char **out)
{
    const cJSON *v = field(config, "chat_template");
    if (!v || cJSON_IsNull(v))
        return VKQ_OK;
    if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v)
        {
            const cJSON *name = field(item, "name"), *text = field(item, "template");
            if (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0 &&
                cJSON_IsString(text))
                return vkq_copy_string(text->valuestring, out);
        }
        return vkq_fail(VKQ_ERR_FORMAT, "%s: chat_template is a list without a \"default\" "
                        "{\"name\", \"template\"}", path);
    }
    if (!cJSON_IsString(v))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: chat_template must be a string", path);
    return vkq_copy_string(v->valuestring, out);
}

static vkq_status read_config(vkq_hf *t, const char *path)
{
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    cJSON *config = NULL;
    vkq_status status = vkq_parse_json(path, 1, text, length, &config);
    free(text);
    if (status == VKQ_OK && !cJSON_IsObject(config))
        status = vkq_fail(VKQ_ERR_FORMAT, "%s: a tokenizer_config.json must be a JSON object",
                          path);
    if (status == VKQ_OK)
        status = special_token(t, path, config, "bos_token", &t->base.bos);
    if (status == VKQ_OK)
        status = special_token(t, path, config, "eos_token", &t->base.eos);
    if (status == VKQ_OK)
        status = chat_template(path, config, &t->base.chat_template);
    cJSON_Delete(config);
    return status;
}

vkq_status vkq_hf_load_config(vkq_hf *t, const char *tokenizer_path)
{
    size_t dir = vkq_dir_part(tokenizer_path);
    size_t size = dir + sizeof "tokenizer_config.json";
    char *path = malloc(size);
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate a path");
    snprintf(path, size, "%.*stokenizer_config.json", (int)dir, tokenizer_path);
    struct stat st;
    vkq_status status = VKQ_OK;
    if (stat(path, &st) == 0)
        status = read_config(t, path);
    else if (errno != ENOENT)
        status = vkq_fail(VKQ_ERR_IO, "%s: %s", path, strerror(errno));
    free(path);
    return status;
}
