/* config.json / generation_config.json: the published configs of five real models (values as
 * on their Hugging Face model pages), transformers' defaults, and one bad field per rule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "support.h"
#include "vkquill/hf_config.h"

#define CONFIGS VKQ_SOURCE_DIR "/tests/data/hf_configs"

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

static void test_qwen2_5_0_5b_instruct(void **state)
{
    (void)state;
    vkq_hf_config c;
    OK(vkq_hf_config_load(CONFIGS "/Qwen2.5-0.5B-Instruct/config.json", &c));
    assert_int_equal(c.arch, VKQ_HF_QWEN2);
    assert_int_equal(c.hidden_size, 896);
    assert_int_equal(c.intermediate_size, 4864);
    assert_int_equal(c.num_hidden_layers, 24);
    assert_int_equal(c.num_attention_heads, 14);
    assert_int_equal(c.num_key_value_heads, 2);
    assert_int_equal(c.head_dim, 64); /* 896 / 14 */
    assert_int_equal(c.vocab_size, 151936);
    assert_int_equal(c.max_position_embeddings, 32768);
    assert_true(c.rms_norm_eps == 1e-6);
    assert_true(c.rope_theta == 1e6);
    assert_false(c.rope_llama3);
    assert_true(c.tie_word_embeddings);
    assert_true(c.qkv_bias); /* Qwen2 always, whatever attention_bias says */
    assert_false(c.o_bias);
    assert_false(c.qk_norm);
    assert_int_equal(c.sliding_window, 0); /* use_sliding_window false */
    assert_int_equal(c.torch_dtype, VKQ_ST_BF16);
    assert_int_equal(c.tokens.bos_token_id, 151643);
    assert_int_equal(c.tokens.pad_token_id, -1);
    assert_int_equal(c.tokens.n_eos, 1);
    assert_int_equal(c.tokens.eos_token_ids[0], 151645);
    OK(vkq_hf_config_check_context(&c, "config.json", 32768));
    vkq_hf_tokens g;
    OK(vkq_hf_generation_load(CONFIGS "/Qwen2.5-0.5B-Instruct/generation_config.json", &g));
    assert_int_equal(g.n_eos, 2);
    assert_int_equal(g.eos_token_ids[0], 151645);
    assert_int_equal(g.eos_token_ids[1], 151643);
    assert_int_equal(g.pad_token_id, 151643);
    assert_int_equal(g.bos_token_id, 151643);
}

static void test_qwen3_0_6b(void **state)
{
    (void)state;
    vkq_hf_config c;
    OK(vkq_hf_config_load(CONFIGS "/Qwen3-0.6B/config.json", &c));
    assert_int_equal(c.arch, VKQ_HF_QWEN3);
    assert_int_equal(c.hidden_size, 1024);
    assert_int_equal(c.intermediate_size, 3072);
    assert_int_equal(c.num_hidden_layers, 28);
    assert_int_equal(c.num_attention_heads, 16);
    assert_int_equal(c.num_key_value_heads, 8);
    assert_int_equal(c.head_dim, 128); /* not 1024 / 16 */
    assert_int_equal(c.vocab_size, 151936);
    assert_int_equal(c.max_position_embeddings, 40960);
    assert_true(c.rope_theta == 1e6);
    assert_false(c.rope_llama3);
    assert_true(c.tie_word_embeddings);
    assert_false(c.qkv_bias);
    assert_false(c.o_bias);
    assert_true(c.qk_norm);
    assert_int_equal(c.sliding_window, 0);
    assert_int_equal(c.torch_dtype, VKQ_ST_BF16);
    vkq_hf_tokens g;
    OK(vkq_hf_generation_load(CONFIGS "/Qwen3-0.6B/generation_config.json", &g));
    assert_int_equal(g.n_eos, 2);
    assert_int_equal(g.eos_token_ids[0], 151645);
}

static void test_llama_3_2_1b(void **state)
{
    (void)state;
    vkq_hf_config c;
    OK(vkq_hf_config_load(CONFIGS "/Llama-3.2-1B/config.json", &c));
    assert_int_equal(c.arch, VKQ_HF_LLAMA);
    assert_int_equal(c.hidden_size, 2048);
    assert_int_equal(c.intermediate_size, 8192);
    assert_int_equal(c.num_hidden_layers, 16);
    assert_int_equal(c.num_attention_heads, 32);
    assert_int_equal(c.num_key_value_heads, 8);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.vocab_size, 128256);
    assert_int_equal(c.max_position_embeddings, 131072);
    assert_true(c.rms_norm_eps == 1e-5);
    assert_true(c.rope_theta == 500000);
    assert_true(c.rope_llama3);
    assert_true(c.rope_factor == 32 && c.rope_low_freq_factor == 1 &&
                c.rope_high_freq_factor == 4);
    assert_int_equal(c.rope_original_max_position_embeddings, 8192);
    assert_true(c.tie_word_embeddings);
    assert_false(c.qkv_bias || c.o_bias || c.qk_norm);
    assert_int_equal(c.tokens.bos_token_id, 128000);
    assert_int_equal(c.tokens.n_eos, 1);
    assert_int_equal(c.tokens.eos_token_ids[0], 128001);
    vkq_hf_tokens g;
    OK(vkq_hf_generation_load(CONFIGS "/Llama-3.2-1B/generation_config.json", &g));
    assert_int_equal(g.n_eos, 1);
    assert_int_equal(g.eos_token_ids[0], 128001);
    assert_int_equal(g.pad_token_id, -1);
}

static void test_smollm2_135m(void **state)
{
    (void)state;
    vkq_hf_config c;
    OK(vkq_hf_config_load(CONFIGS "/SmolLM2-135M/config.json", &c));
    assert_int_equal(c.arch, VKQ_HF_LLAMA);
    assert_int_equal(c.hidden_size, 576);
    assert_int_equal(c.intermediate_size, 1536);
    assert_int_equal(c.num_hidden_layers, 30);
    assert_int_equal(c.num_attention_heads, 9);
    assert_int_equal(c.num_key_value_heads, 3);
    assert_int_equal(c.head_dim, 64); /* 576 / 9 */
    assert_int_equal(c.vocab_size, 49152);
    assert_int_equal(c.max_position_embeddings, 8192);
    assert_true(c.rope_theta == 100000);
    assert_false(c.rope_llama3);
    assert_true(c.tie_word_embeddings);
    assert_int_equal(c.tokens.bos_token_id, 0);
    assert_int_equal(c.tokens.eos_token_ids[0], 0);
}

static void test_mistral_7b_v0_1(void **state)
{
    (void)state;
    vkq_hf_config c;
    const char *path = CONFIGS "/Mistral-7B-v0.1/config.json";
    OK(vkq_hf_config_load(path, &c));
    assert_int_equal(c.arch, VKQ_HF_MISTRAL);
    assert_int_equal(c.hidden_size, 4096);
    assert_int_equal(c.intermediate_size, 14336);
    assert_int_equal(c.num_hidden_layers, 32);
    assert_int_equal(c.num_attention_heads, 32);
    assert_int_equal(c.num_key_value_heads, 8);
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.vocab_size, 32000);
    assert_int_equal(c.max_position_embeddings, 32768);
    assert_true(c.rope_theta == 10000);
    assert_false(c.tie_word_embeddings);
    assert_false(c.qkv_bias || c.o_bias);
    assert_int_equal(c.sliding_window, 4096);
    assert_int_equal(c.tokens.bos_token_id, 1);
    assert_int_equal(c.tokens.eos_token_ids[0], 2);
    /* a window as long as the context masks nothing */
    OK(vkq_hf_config_check_context(&c, path, 4096));
    assert_int_equal(vkq_hf_config_check_context(&c, path, 4097), VKQ_ERR_UNSUPPORTED);
    assert_contains(vkq_last_error(), "Mistral-7B-v0.1/config.json: field \"sliding_window\" is "
                                      "4096");
}

/* A small valid config; each case edits one field (NULL value: remove it). */
static const char base_config[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, "
    "\"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
    "\"vocab_size\": 100, \"max_position_embeddings\": 256}";

static vkq_status parse_edited(const char *key, const char *value, vkq_hf_config *c)
{
    cJSON *root = cJSON_Parse(base_config);
    if (key) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, key);
        if (value)
            cJSON_AddItemToObject(root, key, cJSON_Parse(value));
    }
    char *text = cJSON_PrintUnformatted(root);
    vkq_status s = vkq_hf_config_parse("edited/config.json", text, strlen(text), c);
    free(text);
    cJSON_Delete(root);
    return s;
}

static void test_defaults(void **state)
{
    (void)state;
    vkq_hf_config c;
    OK(parse_edited(NULL, NULL, &c));
    assert_int_equal(c.num_key_value_heads, 4);
    assert_int_equal(c.head_dim, 16);
    assert_true(c.rms_norm_eps == 1e-6);
    assert_true(c.rope_theta == 10000);
    assert_false(c.tie_word_embeddings || c.qkv_bias || c.o_bias);
    assert_int_equal(c.torch_dtype, VKQ_ST_F32);
    assert_int_equal(c.tokens.n_eos, 0);
    assert_int_equal(c.tokens.bos_token_id, -1);
    OK(parse_edited("attention_bias", "true", &c));
    assert_true(c.qkv_bias && c.o_bias);
    OK(parse_edited("eos_token_id", "[128001, 128008, 128009]", &c));
    assert_int_equal(c.tokens.n_eos, 3);
    assert_int_equal(c.tokens.eos_token_ids[2], 128009);
    OK(parse_edited("rope_scaling", "{\"type\": \"default\"}", &c));
    assert_false(c.rope_llama3);
    OK(parse_edited("dtype", "\"float16\"", &c));
    assert_int_equal(c.torch_dtype, VKQ_ST_F16);
    OK(parse_edited("rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 5e5}", &c));
    assert_true(c.rope_theta == 5e5);
    OK(parse_edited("num_experts", "0", &c));
}

/* Qwen2's window is in use only with use_sliding_window and a layer at or past
 * max_window_layers; Mistral's whenever it is set. */
static void test_sliding_window_rules(void **state)
{
    (void)state;
    static const struct {
        const char *arch_and_fields;
        int window;
    } cases[] = {
        {"\"Qwen2ForCausalLM\"], \"use_sliding_window\": true, \"sliding_window\": 512, "
         "\"max_window_layers\": 1", 512},
        {"\"Qwen2ForCausalLM\"], \"use_sliding_window\": true, \"sliding_window\": 512, "
         "\"max_window_layers\": 2", 0},
        {"\"Qwen2ForCausalLM\"], \"use_sliding_window\": false, \"sliding_window\": 512, "
         "\"max_window_layers\": 0", 0},
        {"\"Qwen3ForCausalLM\"], \"use_sliding_window\": true, \"sliding_window\": 64, "
         "\"layer_types\": [\"full_attention\", \"sliding_attention\"]", 64},
        {"\"Qwen3ForCausalLM\"], \"use_sliding_window\": true, \"sliding_window\": null", 0},
        {"\"MistralForCausalLM\"], \"sliding_window\": null", 0},
        {"\"MistralForCausalLM\"]", 4096}, /* MistralConfig's default */
        {"\"LlamaForCausalLM\"], \"sliding_window\": 16", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"architectures\": [%s, \"hidden_size\": 64, "
                 "\"intermediate_size\": 128, \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"vocab_size\": 100, "
                 "\"max_position_embeddings\": 256}", cases[i].arch_and_fields);
        vkq_hf_config c;
        OK(vkq_hf_config_parse("w.json", text, strlen(text), &c));
        if (c.sliding_window != cases[i].window)
            fail_msg("case %zu: window %d, want %d", i, c.sliding_window, cases[i].window);
    }
}

static void test_bad_fields(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"architectures", "[\"GPT2LMHeadModel\"]", "\"architectures\" is [\"GPT2LMHeadModel\"]"},
        {"architectures", "[]", "\"architectures\" is []"},
        {"hidden_size", NULL, "\"hidden_size\" is missing: the field is required"},
        {"hidden_size", "-64", "\"hidden_size\" is -64"},
        {"hidden_size", "64.5", "\"hidden_size\" is 64.5: must be an integer"},
        {"hidden_size", "\"64\"", "\"hidden_size\" is \"64\""},
        {"hidden_size", "62", "\"hidden_size\" is 62: must be a multiple"},
        {"hidden_size", "60", "\"hidden_size\" is 60: the head size must be even"},
        {"num_hidden_layers", "0", "\"num_hidden_layers\" is 0"},
        {"num_key_value_heads", "3", "\"num_key_value_heads\" is 3: must divide"},
        {"head_dim", "15", "\"head_dim\" is 15: the head size must be even"},
        {"vocab_size", "1e12", "\"vocab_size\" is 1000000000000"},
        {"rms_norm_eps", "0", "\"rms_norm_eps\" is 0"},
        {"rope_theta", "-1", "\"rope_theta\" is -1"},
        {"rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}",
         "\"rope_scaling.rope_type\" is \"yarn\""},
        {"rope_scaling", "{\"type\": \"linear\", \"factor\": 2}",
         "\"rope_scaling.type\" is \"linear\""},
        {"rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8}",
         "\"rope_scaling.low_freq_factor\" is missing"},
        {"rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, "
                         "\"high_freq_factor\": 1, \"original_max_position_embeddings\": 8192}",
         "\"rope_scaling.high_freq_factor\" is 1"},
        {"rope_scaling", "[1]", "\"rope_scaling\" is [1]"},
        {"hidden_act", "\"gelu\"", "\"hidden_act\" is \"gelu\": only \"silu\""},
        {"mlp_bias", "true", "\"mlp_bias\" is true"},
        {"num_local_experts", "8", "\"num_local_experts\" is 8: mixture-of-experts"},
        {"num_experts", "64", "\"num_experts\" is 64"},
        {"tie_word_embeddings", "1", "\"tie_word_embeddings\" is 1: must be true or false"},
        {"torch_dtype", "\"float64\"", "\"torch_dtype\" is \"float64\""},
        {"eos_token_id", "[1, \"x\"]", "\"eos_token_id\" is [1,\"x\"]"},
        {"eos_token_id", "-2", "\"eos_token_id\" is -2"},
        {"bos_token_id", "true", "\"bos_token_id\" is true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkq_hf_config c;
        vkq_status s = parse_edited(cases[i].key, cases[i].value, &c);
        if (s != VKQ_ERR_FORMAT)
            fail_msg("%s = %s: status %d", cases[i].key, cases[i].value, s);
        const char *message = vkq_last_error();
        assert_true(strncmp(message, "edited/config.json: field ", 26) == 0);
        assert_null(strchr(message, '\n'));
        assert_contains(message, cases[i].message);
    }
}

static void test_bad_documents(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"", "the file is not valid JSON"},
        {"{\"hidden_size\": ", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{} x", "text after its JSON object"},
        {"{\"a\": \"\xff\"}", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkq_hf_config c;
        assert_int_equal(vkq_hf_config_parse("d/config.json", cases[i].text,
                                             strlen(cases[i].text), &c),
                         VKQ_ERR_FORMAT);
        assert_contains(vkq_last_error(), "d/config.json: ");
        assert_contains(vkq_last_error(), cases[i].message);
    }
    vkq_hf_config c;
    assert_int_equal(vkq_hf_config_load(CONFIGS "/absent/config.json", &c), VKQ_ERR_IO);
    assert_contains(vkq_last_error(), "absent/config.json: cannot open");
    vkq_hf_tokens g;
    const char *bad = "{\"eos_token_id\": 1.5}";
    assert_int_equal(vkq_hf_generation_parse("generation_config.json", bad, strlen(bad), &g),
                     VKQ_ERR_FORMAT);
    assert_contains(vkq_last_error(),
                    "generation_config.json: field \"eos_token_id\" is 1.5: must be an integer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2_5_0_5b_instruct),
        cmocka_unit_test(test_qwen3_0_6b),
        cmocka_unit_test(test_llama_3_2_1b),
        cmocka_unit_test(test_smollm2_135m),
        cmocka_unit_test(test_mistral_7b_v0_1),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sliding_window_rules),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_bad_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
