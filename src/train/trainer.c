/* The training loop: data and pairs, the model (and a frozen reference when the method needs
 * one), one recording per micro-batch, AdamW on the last, logging and checkpoints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/file.h"
#include "train/train_internal.h"
#include "vkquill/causal_loss.h"
#include "vkquill/dist.h"
#include "vkquill/kernels.h"
#include "vkquill/model_file.h"
#include "vkquill/peft.h"

typedef struct trainer {
    vkq_ctx *ctx;
    const vkq_train_config *c;
    vkq_model_file *base; /* the model trained, kept open for its format and files */
    vkq_llama_config mcfg;
    vkq_llama_tensors tensors;
    vkq_tokenizer *tok;
    vkq_template tpl;
    vkq_dataset data, val_data;
    vkq_pair *pairs, *val_pairs;
    uint32_t n_pairs, n_val;
    uint64_t data_hash; /* of the training pairs: a checkpoint's data position is into these */
    int paired, ref_each_step; /* ref_each_step: the KL alignment needs reference logits */
    vkq_causal_loss_args loss;
    vkq_model *model, *ref; /* ref NULL with a fixed DCE under LoRA: the base, adapters off */
    uint64_t ref_key;      /* a hash of the reference model, for the fixed-DCE cache */
    float *dce_cache;      /* fixed DCE: per pair, its n_response values */
    uint32_t *dce_offset;
    float *host_dce;
    vkq_rec *rec;
    vkq_buf targets, weights, losses, dce, stats, totals, hyper;
    vkq_buf loss_work, loss_sums; /* the loss of a batch shared with other ranks */
    train_batch batch;
    uint32_t *order, *which; /* which: every rank's samples of the micro-batch, rank by rank */
    uint32_t micro; /* the micro-batch within the step: part of the dropout key */
    uint32_t rank, ranks;
    train_state st;
    vkq_memory_plan memory;
    FILE *log, *probe;
    char checkpoint_path[VKQ_PATH_MAX + 32], log_path[VKQ_PATH_MAX + 32];
    char probe_path[VKQ_PATH_MAX + 32];
} trainer;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void train_loss_args(const vkq_train_config *c, vkq_causal_loss_args *a)
{
    const char *m = c->method;
    int thresholded = strcmp(m, "dce") == 0 || strcmp(m, "nextquill") == 0;
    int aligned = strcmp(m, "mce") == 0 || strcmp(m, "nextquill") == 0;
    memset(a, 0, sizeof *a);
    a->weighting = thresholded ? VKQ_WEIGHTS_THRESHOLD : VKQ_WEIGHTS_UNIFORM;
    if (strcmp(c->weights, "js") == 0)
        a->weighting = VKQ_WEIGHTS_JS;
    else if (strcmp(c->weights, "threshold") == 0)
        a->weighting = VKQ_WEIGHTS_THRESHOLD;
    else if (strcmp(c->weights, "uniform") == 0)
        a->weighting = VKQ_WEIGHTS_UNIFORM;
    a->align = aligned ? VKQ_ALIGN_CE : VKQ_ALIGN_NONE;
    if (aligned && strcmp(c->align, "kl") == 0)
        a->align = VKQ_ALIGN_KL;
    a->align_weighted = c->align_weighted;
    a->alpha = c->alpha;
    a->delta = c->delta;
    a->lambda = c->lambda;
    a->eps = c->eps;
    a->dce_fixed = strcmp(c->method, "sft") != 0 && strcmp(c->dce, "fixed") == 0;
    a->grad_scale = 1.0f / (float)c->accum;
}

static vkq_status build_pairs(trainer *t, const vkq_dataset *data, const char *path,
                              vkq_pair **pairs, uint32_t *count)
{
    const vkq_train_config *c = t->c;
    vkq_prompt_limits limits = {c->history_k, c->max_prompt_tokens, c->max_target_tokens,
                                t->mcfg.seq_len};
    *pairs = calloc(data->count ? data->count : 1, sizeof **pairs);
    if (!*pairs)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < data->count; i++) {
        vkq_status s = vkq_pair_build(t->tok, &t->tpl, &limits, &data->samples[i],
                                      &(*pairs)[*count]);
        if (s == VKQ_OK)
            ++*count;
        else if (!c->skip_bad) {
            vkq_saved_error e = vkq_error_save(s);
            return vkq_fail(s, "%s: %s", path, e.message);
        }
    }
    if (*count == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no sample fits the prompt limits", path);
    return VKQ_OK;
}

/* Room for a batch of either set, at c's batch size and method. */
static void batch_bounds(const vkq_train_config *c, void *user, uint32_t *max_tokens,
                         uint32_t *max_rows)
{
    const trainer *t = user;
    train_batch_bounds(t->pairs, t->n_pairs, c->batch, strcmp(c->method, "sft") != 0,
                       max_tokens, max_rows);
    if (t->n_val) {
        uint32_t tokens, rows;
        train_batch_bounds(t->val_pairs, t->n_val, c->batch, 1, &tokens, &rows);
        *max_tokens = tokens > *max_tokens ? tokens : *max_tokens;
        *max_rows = rows > *max_rows ? rows : *max_rows;
    }
}

static vkq_status alloc_buffers(trainer *t, uint32_t max_rows)
{
    vkq_ctx *ctx = t->ctx;
    uint64_t sizes[TRAIN_BUFS];
    train_buffer_sizes(max_rows, sizes);
    vkq_buf *bufs[TRAIN_BUFS] = {&t->targets, &t->weights,  &t->losses,    &t->dce,
                                 &t->stats,   &t->totals,   &t->hyper,     &t->loss_work,
                                 &t->loss_sums};
    for (int i = 0; i < TRAIN_BUFS; i++)
        VKQ_TRY(vkq_buf_alloc(ctx, sizes[i], bufs[i]));
    t->host_dce = malloc(4ull * max_rows);
    t->order = malloc(t->n_pairs * sizeof *t->order);
    t->which = malloc((size_t)t->c->batch * t->ranks * sizeof *t->which);
    if (!t->host_dce || !t->order || !t->which)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    return vkq_rec_create(ctx, &t->rec);
}

/* The fixed-DCE cache on disk: a header, then the values of every response token of every
 * training pair, in data order. Its key hashes the reference model (shape and weights) and
 * every pair's token sequences, which the data, the template, the tokenizer, the prompt limits
 * and the model's context decide: a cache made from anything else is recomputed. */
typedef struct dce_cache_header {
    char magic[4];
    uint32_t count;
    uint64_t key;
} dce_cache_header;

static const char DCE_CACHE_MAGIC[4] = {'V', 'K', 'Q', 'D'};

typedef struct dce_cache_file {
    dce_cache_header header;
    const float *values;
} dce_cache_file;

static vkq_status write_dce_cache(const char *path, FILE *f, void *user)
{
    const dce_cache_file *c = user;
    VKQ_TRY(vkq_write_bytes(path, f, &c->header, sizeof c->header, 1));
    return vkq_write_bytes(path, f, c->values, sizeof *c->values, c->header.count);
}

/* Whether path holds a cache made with this key, of exactly header->count values. */
static int read_dce_cache(const char *path, const dce_cache_header *want, float *values)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    dce_cache_header got;
    int ok = fread(&got, sizeof got, 1, f) == 1 && memcmp(&got, want, sizeof got) == 0 &&
             fread(values, sizeof *values, want->count, f) == want->count && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static uint64_t hash_more(uint64_t key, const void *data, size_t bytes)
{
    return XXH3_64bits_withSeed(data, bytes, key);
}

/* A hash of every training pair's lengths and tokens, from seed: what the data, template,
 * tokenizer, prompt limits and the model's context made of the samples. */
static uint64_t pairs_hash(const trainer *t, uint64_t seed)
{
    uint64_t key = seed;
    for (uint32_t i = 0; i < t->n_pairs; i++) {
        const vkq_pair *p = &t->pairs[i];
        uint32_t shape[] = {p->n_with, p->with_prompt, p->n_without, p->without_prompt,
                            p->n_response};
        key = hash_more(key, shape, sizeof shape);
        key = hash_more(key, p->with_history, p->n_with * sizeof *p->with_history);
        key = hash_more(key, p->without_history, p->n_without * sizeof *p->without_history);
    }
    return key;
}

/* One training pair's fixed DCE, from ref, into the cache. */
static vkq_status reference_dce_of(trainer *t, vkq_model *ref, uint32_t i)
{
    VKQ_TRY(train_batch_build(&t->batch, t->pairs, &i, 1, 1));
    vkq_batch b = {t->batch.tokens, t->batch.n_tokens, t->batch.offsets, t->batch.n_seqs,
                   t->batch.rows, t->batch.n_rows};
    uint32_t r = t->batch.n_response;
    VKQ_TRY(vkq_model_set_batch(ref, &b));
    VKQ_TRY(vkq_buf_upload(t->ctx, t->targets, 0, t->batch.targets, 4ull * r));
    VKQ_TRY(vkq_rec_begin(t->rec));
    VKQ_TRY(vkq_model_forward(ref, t->rec));
    VKQ_TRY(vkq_causal_dce(t->rec, vkq_model_logits(ref), t->targets, t->dce, r,
                           t->mcfg.vocab_size));
    VKQ_TRY(vkq_rec_end(t->rec));
    VKQ_TRY(vkq_rec_submit(t->rec));
    return vkq_buf_download(t->ctx, t->dce, 0, t->dce_cache + t->dce_offset[i], 4ull * r);
}

/* The fixed DCE's model: the reference, or the model's own frozen base with its adapters off. */
static vkq_model *dce_reference(trainer *t)
{
    if (t->ref)
        return t->ref;
    vkq_model_set_adapter(t->model, 0);
    return t->model;
}

/* Fixed DCE: the frozen reference model's p(y|x,h) - p(y|x,0) of every response token,
 * computed once, one sample at a time. */
static vkq_status precompute_dce(trainer *t)
{
    uint32_t total = 0;
    t->dce_offset = malloc((t->n_pairs + 1) * sizeof *t->dce_offset);
    if (!t->dce_offset)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < t->n_pairs; i++) {
        t->dce_offset[i] = total;
        total += t->pairs[i].n_response;
    }
    t->dce_offset[t->n_pairs] = total;
    t->dce_cache = malloc(4ull * total);
    if (!t->dce_cache)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    char path[VKQ_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/dce_cache.bin", t->c->out);
    dce_cache_file file = {.values = t->dce_cache};
    memcpy(file.header.magic, DCE_CACHE_MAGIC, sizeof DCE_CACHE_MAGIC);
    file.header.count = total;
    file.header.key = pairs_hash(t, t->ref_key);
    if (read_dce_cache(path, &file.header, t->dce_cache))
        return VKQ_OK;
    vkq_model *ref = dce_reference(t);
    vkq_status s = VKQ_OK;
    for (uint32_t i = 0; i < t->n_pairs && s == VKQ_OK; i++)
        s = reference_dce_of(t, ref, i);
    vkq_model_set_adapter(t->model, 1);
    VKQ_TRY(s);
    return t->rank == 0 ? vkq_write_atomic(path, write_dce_cache, &file) : VKQ_OK;
}

static vkq_status hash_piece(void *user, vkq_tensor_id id, size_t offset, const float *piece,
                             size_t n)
{
    (void)id, (void)offset;
    uint64_t *key = user;
    *key = hash_more(*key, piece, n * sizeof *piece);
    return VKQ_OK;
}

/* A hash of a model's shape, device dtype and weights: the fixed-DCE cache's reference part. */
static vkq_status model_key(const vkq_llama_config *c, vkq_dtype dtype,
                            const vkq_tensor_source *weights, uint64_t *key)
{
    *key = hash_more(hash_more(0, c, sizeof *c), &dtype, sizeof dtype);
    return vkq_tensor_source_each_piece(c, weights, 1u << 20, hash_piece, key);
}

static vkq_status load_reference(trainer *t, const vkq_model_options *o)
{
    vkq_model_file *ref;
    VKQ_TRY(vkq_model_file_open(t->c->ref_model, &ref));
    const vkq_llama_config *rcfg = vkq_model_file_config(ref);
    vkq_tensor_source weights = vkq_model_file_weights(ref);
    vkq_status s = VKQ_OK;
    if (rcfg->vocab_size != t->mcfg.vocab_size)
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: the reference model's vocabulary (%u) differs from "
                     "the model's (%u)", t->c->ref_model, rcfg->vocab_size, t->mcfg.vocab_size);
    vkq_model_options ro = *o;
    ro.training = 0;
    if (s == VKQ_OK)
        s = vkq_model_create(t->ctx, rcfg, &weights, &ro, &t->ref);
    if (s == VKQ_OK)
        s = model_key(rcfg, ro.base_dtype, &weights, &t->ref_key);
    vkq_model_file_close(ref);
    return s;
}

/* The checkpoint's data position must be into the data given now: the same pairs (data,
 * template, tokenizer and prompt limits) the run started with. */
static vkq_status check_resumed_data(const trainer *t)
{
    const train_state *st = &t->st;
    if (st->position > t->n_pairs)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: its data position %u is beyond the %u training samples %s gives; "
                        "resume with the data the run started with",
                        t->checkpoint_path, st->position, t->n_pairs, t->c->data);
    if (st->data_count != t->n_pairs || st->data_hash != t->data_hash)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: the run started with other training data (%u samples, hash "
                        "%016llx) than %s gives now (%u samples, hash %016llx, as tokenized with "
                        "this tokenizer, template and prompt limits); resume with the data the "
                        "run started with",
                        t->checkpoint_path, st->data_count, (unsigned long long)st->data_hash,
                        t->c->data, t->n_pairs, (unsigned long long)t->data_hash);
    return VKQ_OK;
}

/* Loads and checks the checkpoint into the model; writes nothing. */
static vkq_status resume(trainer *t)
{
    float *params, *m, *v;
    VKQ_TRY(train_checkpoint_load(t->checkpoint_path, vkq_model_trainable_floats(t->model),
                                  &t->st, &params, &m, &v));
    vkq_status s = check_resumed_data(t);
    if (s == VKQ_OK && t->st.ranks != t->ranks)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: the checkpoint was written by %u ranks; "
                     "resume it with %u (mpirun -np %u), not %u", t->checkpoint_path,
                     t->st.ranks, t->st.ranks, t->st.ranks, t->ranks);
    if (s == VKQ_OK)
        s = vkq_model_upload_trainable(t->model, params);
    if (s == VKQ_OK)
        s = vkq_model_upload_moments(t->model, m, v);
    free(params);
    free(m);
    free(v);
    return s;
}

/* The trained model in its base's format (RUN/model/ or RUN/model.bin), under LoRA the base
 * with the adapters folded in, and the adapters alone as a PEFT directory (RUN/adapter/). */
static vkq_status save_model(trainer *t, const float *trainable)
{
    vkq_lora_options lora;
    VKQ_TRY(vkq_train_config_lora(t->c, &lora));
    float *params = malloc(t->tensors.total * sizeof *params);
    if (!params)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory saving the model");
    vkq_status s = VKQ_OK;
    if (lora.r) {
        s = vkq_model_download_params(t->model, params);
        vkq_lora_merge(&t->mcfg, &lora, trainable, params);
    } else {
        memcpy(params, trainable, t->tensors.total * sizeof *params);
    }
    char path[VKQ_PATH_MAX + 32], written[VKQ_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/model", t->c->out);
    if (s == VKQ_OK)
        s = vkq_model_file_write_like(t->base, path, params, written, sizeof written);
    snprintf(path, sizeof path, "%s/adapter", t->c->out);
    if (s == VKQ_OK && lora.r)
        s = vkq_peft_write(path, &t->mcfg, &lora, trainable, t->c->model);
    free(params);
    return s;
}

/* checkpoint.bin is the run's authority; the model (model.bin or model/) exports its weights
 * and is written after it, so a kill between the two leaves the model one save behind. A
 * resumed run writes it again from the checkpoint before anything else. */
static vkq_status export_model(trainer *t)
{
    float *trainable = malloc(vkq_model_trainable_floats(t->model) * sizeof *trainable);
    if (!trainable)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory exporting the model");
    vkq_status s = vkq_model_download_trainable(t->model, trainable);
    if (s == VKQ_OK)
        s = save_model(t, trainable);
    free(trainable);
    return s;
}

/* The temporary files a killed run may have left behind. (A model/ directory's model.tmp/ and
 * model.old/ are cleared by its next write, which a resume makes first.) */
static vkq_status remove_leftovers(const trainer *t)
{
    static const char *const files[] = {"checkpoint.bin", "model.bin", "config.json",
                                        "log.jsonl", "probe.jsonl", "dce_cache.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[VKQ_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", t->c->out, files[i]);
        VKQ_TRY(vkq_remove_temporary(path));
    }
    return VKQ_OK;
}

/* Bytes for vkq_write_atomic to write. */
typedef struct byte_span {
    const void *bytes;
    size_t length;
} byte_span;

static vkq_status write_span(const char *path, FILE *f, void *user)
{
    const byte_span *span = user;
    return vkq_write_bytes(path, f, span->bytes, 1, span->length);
}

/* Rewrites a JSONL file with a "step" first in every line to the complete lines of steps up
 * to the checkpoint's (a kill can cut the last line short), atomically. */
static vkq_status keep_steps(const char *path, uint32_t step)
{
    FILE *old = fopen(path, "r");
    if (!old && errno != ENOENT)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    char *kept = NULL, *line = NULL;
    size_t kept_length = 0, capacity = 0;
    FILE *mem = open_memstream(&kept, &kept_length);
    ssize_t n;
    unsigned at;
    while (mem && old && (n = getline(&line, &capacity, old)) > 0)
        if (line[n - 1] == '\n' && sscanf(line, "{\"step\":%u", &at) == 1 && at <= step)
            fwrite(line, 1, (size_t)n, mem);
    int read_failed = old && ferror(old);
    free(line);
    if (old)
        fclose(old);
    vkq_status s = !mem || fclose(mem) != 0
                       ? vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", path)
                   : read_failed ? vkq_fail(VKQ_ERR_IO, "%s: read failed", path)
                                 : VKQ_OK;
    byte_span span = {kept, kept_length};
    if (s == VKQ_OK)
        s = vkq_write_atomic(path, write_span, &span);
    free(kept);
    return s;
}

/* A JSONL file with a "step" first in every line, opened to add lines: a resumed run keeps
 * the lines of steps up to the checkpoint, so its file reads as one run. */
static vkq_status open_step_file(const char *path, int resume, uint32_t step, FILE **out)
{
    if (resume)
        VKQ_TRY(keep_steps(path, step));
    *out = fopen(path, resume ? "a" : "w");
    if (!*out)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return VKQ_OK;
}

/* Lines written and flushed; synced too, before a checkpoint that a resume trusts them by. */
static vkq_status flush_step_file(FILE *f, const char *path, int sync)
{
    if (f && (ferror(f) || fflush(f) != 0 || (sync && fsync(fileno(f)) != 0)))
        return vkq_fail(VKQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return VKQ_OK;
}

/* Refuses a run whose plan exceeds the device's heap, before anything is allocated, with the
 * plan and the changes that would make it fit. */
static vkq_status check_fits(trainer *t, uint32_t max_tokens, uint32_t max_rows)
{
    vkq_scratch_target target;
    vkq_scratch_target_of(t->ctx, &target);
    vkq_dtype stored = vkq_model_file_device_dtype(t->base);
    VKQ_TRY(vkq_train_memory_plan(t->c, &t->mcfg, stored, max_tokens, max_rows, &target,
                                  &t->memory));
    const vkq_device_info *d = vkq_ctx_device(t->ctx);
    uint64_t heap = vkq_memory_heap_for(d);
    if (t->memory.reserved <= heap)
        return VKQ_OK;
    char parts[320], remedies[320];
    vkq_memory_plan_describe(&t->memory, parts, sizeof parts);
    vkq_train_remedies(t->c, &t->mcfg, stored, batch_bounds, t, &target, heap, remedies,
                       sizeof remedies);
    return vkq_fail(VKQ_ERR_OUT_OF_MEMORY,
                    "train: the run needs %s, %.1f MiB in memory blocks, but %s's heap has "
                    "%.1f MiB; it would fit with %s",
                    parts, t->memory.reserved / 1048576.0, d->name, heap / 1048576.0, remedies);
}

/* The adapters of the configured adapter directory, else PEFT's start from the run's seed. */
static vkq_status init_adapters(trainer *t, const vkq_lora_options *lora)
{
    if (t->c->adapter[0]) {
        vkq_peft_adapter a;
        VKQ_TRY(vkq_peft_read(t->c->adapter, &t->mcfg, &a));
        vkq_status s = vkq_model_upload_trainable(t->model, a.values);
        vkq_peft_free(&a);
        return s;
    }
    float *adapter = malloc(vkq_model_trainable_floats(t->model) * sizeof *adapter);
    if (!adapter)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_lora_init(&t->mcfg, lora, t->c->seed, adapter);
    vkq_status s = vkq_model_upload_trainable(t->model, adapter);
    free(adapter);
    return s;
}

/* What a killed run left, and on resume the model of the checkpoint: rank 0's. */
static vkq_status tidy_run_directory(trainer *t)
{
    VKQ_TRY(remove_leftovers(t));
    return t->c->resume ? export_model(t) : VKQ_OK;
}

/* The configuration, the log and the probe file: rank 0's. */
static vkq_status open_run_files(trainer *t)
{
    const vkq_train_config *c = t->c;
    char path[VKQ_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", c->out);
    VKQ_TRY(vkq_train_config_save(c, path));
    VKQ_TRY(open_step_file(t->log_path, c->resume, t->st.step, &t->log));
    return t->n_val ? open_step_file(t->probe_path, c->resume, t->st.step, &t->probe) : VKQ_OK;
}

/* Everything that can be refused is checked before the first file of the run directory is
 * touched. */
static vkq_status load_everything(trainer *t)
{
    const vkq_train_config *c = t->c;
    VKQ_TRY(vkq_model_file_open(c->model, &t->base));
    t->mcfg = *vkq_model_file_config(t->base);
    vkq_llama_tensors_of(&t->mcfg, &t->tensors);
    vkq_status s = vkq_tokenizer_load(vkq_model_tokenizer_path(c->model, c->tokenizer),
                                      t->mcfg.vocab_size, &t->tok);
    if (s == VKQ_OK)
        s = c->template_path[0] ? vkq_template_load(c->template_path, &t->tpl)
                                : vkq_template_default(&t->tpl);
    if (s == VKQ_OK)
        s = vkq_template_use_chat(&t->tpl, t->tok, c->chat_template);
    if (s == VKQ_OK)
        s = vkq_dataset_load_jsonl(c->data, c->skip_bad, &t->data);
    if (s == VKQ_OK)
        s = build_pairs(t, &t->data, c->data, &t->pairs, &t->n_pairs);
    if (s == VKQ_OK && c->val[0])
        s = vkq_dataset_load_jsonl(c->val, c->skip_bad, &t->val_data);
    if (s == VKQ_OK && c->val[0])
        s = build_pairs(t, &t->val_data, c->val, &t->val_pairs, &t->n_val);
    t->data_hash = pairs_hash(t, 0);
    t->paired = strcmp(c->method, "sft") != 0;
    train_loss_args(c, &t->loss);
    t->ref_each_step = t->paired && t->loss.align == VKQ_ALIGN_KL;
    uint32_t max_tokens = 0, max_rows = 0;
    if (s == VKQ_OK)
        batch_bounds(c, t, &max_tokens, &max_rows);
    vkq_model_options o;
    if (s == VKQ_OK)
        s = vkq_train_model_options(c, max_tokens, max_rows, vkq_model_file_device_dtype(t->base), &o);
    if (s == VKQ_OK)
        s = check_fits(t, max_tokens, max_rows);
    vkq_tensor_source weights = vkq_model_file_weights(t->base);
    if (s == VKQ_OK)
        s = vkq_model_create(t->ctx, &t->mcfg, &weights, &o, &t->model);
    if (s == VKQ_OK && o.lora.r)
        s = init_adapters(t, &o.lora);
    int base_is_reference = o.lora.r && !c->ref_model[0] && !t->ref_each_step;
    if (s == VKQ_OK && base_is_reference)
        s = model_key(&t->mcfg, o.base_dtype, &weights, &t->ref_key);
    if (s == VKQ_OK)
        s = alloc_buffers(t, max_rows);
    if (s == VKQ_OK && (t->loss.dce_fixed || t->ref_each_step) && !base_is_reference)
        s = load_reference(t, &o);
    if (s == VKQ_OK && c->resume)
        s = resume(t);
    return s;
}

static vkq_status trainer_init(trainer *t)
{
    const vkq_train_config *c = t->c;
    snprintf(t->checkpoint_path, sizeof t->checkpoint_path, "%s/checkpoint.bin", c->out);
    snprintf(t->log_path, sizeof t->log_path, "%s/log.jsonl", c->out);
    snprintf(t->probe_path, sizeof t->probe_path, "%s/probe.jsonl", c->out);
    VKQ_TRY(load_everything(t));
    VKQ_TRY(vkq_make_dirs(c->out));
    if (t->rank == 0)
        VKQ_TRY(tidy_run_directory(t));
    if (t->loss.dce_fixed)
        VKQ_TRY(precompute_dce(t));
    if (t->rank == 0)
        VKQ_TRY(open_run_files(t));
    train_epoch_order(c->seed, t->st.epoch, t->n_pairs, t->order);
    return VKQ_OK;
}

static void trainer_free(trainer *t)
{
    if (t->log)
        fclose(t->log);
    if (t->probe)
        fclose(t->probe);
    vkq_rec_destroy(t->rec);
    vkq_buf *bufs[] = {&t->targets, &t->weights, &t->losses, &t->dce, &t->stats, &t->totals,
                       &t->hyper, &t->loss_work, &t->loss_sums};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(t->ctx, bufs[i]);
    vkq_model_destroy(t->model);
    vkq_model_destroy(t->ref);
    vkq_model_file_close(t->base);
    for (uint32_t i = 0; i < t->n_pairs; i++)
        vkq_pair_free(&t->pairs[i]);
    for (uint32_t i = 0; i < t->n_val; i++)
        vkq_pair_free(&t->val_pairs[i]);
    free(t->pairs);
    free(t->val_pairs);
    vkq_dataset_free(&t->data);
    vkq_dataset_free(&t->val_data);
    vkq_template_free(&t->tpl);
    vkq_tokenizer_free(t->tok);
    train_batch_free(&t->batch);
    free(t->dce_cache);
    free(t->dce_offset);
    free(t->host_dce);
    free(t->order);
    free(t->which);
}

/* Learning rate at a step: linear warm-up, then the schedule's decay to zero. */
static float learning_rate(const vkq_train_config *c, uint32_t step)
{
    uint32_t warmup = (uint32_t)(c->warmup * (float)c->steps);
    if (step < warmup)
        return c->lr * (float)(step + 1) / (float)warmup;
    if (strcmp(c->schedule, "constant") == 0)
        return c->lr;
    float progress = (float)(step - warmup) / (float)(c->steps - warmup);
    if (strcmp(c->schedule, "cosine") == 0)
        return c->lr * 0.5f * (1.0f + cosf(3.14159265f * progress));
    return c->lr * (1.0f - progress);
}

static vkq_status upload_hyper(trainer *t, float lr)
{
    const vkq_train_config *c = t->c;
    float step = (float)(t->st.step + 1);
    vkq_adamw_hyper h = {.lr = lr, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->adam_eps,
                         .weight_decay = c->weight_decay,
                         .bias_correction1 = 1.0f - powf(c->beta1, step),
                         .bias_correction2 = 1.0f - powf(c->beta2, step),
                         .max_grad_norm = c->clip};
    return vkq_buf_upload(t->ctx, t->hyper, 0, &h, sizeof h);
}

/* The next micro-batch's samples, in the epoch's order: batch samples a rank, rank 0's first,
 * so that the ranks together see what one rank with their whole batch would. */
static void next_samples(trainer *t)
{
    for (uint32_t i = 0; i < t->c->batch * t->ranks; i++) {
        if (t->st.position == t->n_pairs) {
            t->st.position = 0;
            t->st.epoch++;
            train_epoch_order(t->c->seed, t->st.epoch, t->n_pairs, t->order);
        }
        t->which[i] = t->order[t->st.position++];
    }
}

static const uint32_t *my_samples(const trainer *t)
{
    return t->which + t->rank * t->c->batch;
}

/* Response tokens of the micro-batch of every rank. */
static uint32_t all_responses(const trainer *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->c->batch * t->ranks; i++)
        n += t->pairs[t->which[i]].n_response;
    return n;
}

static vkq_status upload_micro_batch(trainer *t)
{
    const train_batch *b = &t->batch;
    vkq_batch vb = {b->tokens, b->n_tokens, b->offsets, b->n_seqs, b->rows, b->n_rows};
    VKQ_TRY(vkq_model_set_batch(t->model, &vb));
    if (t->ref_each_step)
        VKQ_TRY(vkq_model_set_batch(t->ref, &vb));
    VKQ_TRY(vkq_buf_upload(t->ctx, t->targets, 0, b->targets, 4ull * b->n_response));
    if (!t->paired) {
        float w = t->loss.grad_scale / (float)all_responses(t);
        for (uint32_t i = 0; i < b->n_response; i++)
            t->host_dce[i] = w;
        VKQ_TRY(vkq_buf_upload(t->ctx, t->weights, 0, t->host_dce, 4ull * b->n_response));
    }
    if (t->loss.dce_fixed) {
        uint32_t at = 0;
        for (uint32_t i = 0; i < t->c->batch; i++) {
            uint32_t p = my_samples(t)[i], n = t->dce_offset[p + 1] - t->dce_offset[p];
            memcpy(t->host_dce + at, t->dce_cache + t->dce_offset[p], 4ull * n);
            at += n;
        }
        VKQ_TRY(vkq_buf_upload(t->ctx, t->dce, 0, t->host_dce, 4ull * at));
    }
    return VKQ_OK;
}

/* The causal loss of a micro-batch the ranks share: this rank's sums, their sum over the
 * ranks, then the loss normalised by it, so that the gradients of the ranks add up to the
 * whole micro-batch's. Ends the recording so far and begins the next. */
static vkq_status record_shared_loss(trainer *t, const vkq_causal_loss_args *a, vkq_buf ref)
{
    float sums[VKQ_CAUSAL_SUMS];
    vkq_buf logits = vkq_model_dlogits(t->model);
    VKQ_TRY(vkq_causal_loss_sums(t->rec, a, logits, t->targets, t->dce, ref, t->loss_work,
                                 t->loss_sums));
    VKQ_TRY(vkq_rec_end(t->rec));
    VKQ_TRY(vkq_rec_submit(t->rec));
    VKQ_TRY(vkq_buf_download(t->ctx, t->loss_sums, 0, sums, sizeof sums));
    VKQ_TRY(vkq_dist_sum(sums, VKQ_CAUSAL_SUMS));
    VKQ_TRY(vkq_buf_upload(t->ctx, t->loss_sums, 0, sums, sizeof sums));
    VKQ_TRY(vkq_rec_begin(t->rec));
    return vkq_causal_loss_finish(t->rec, a, logits, t->targets, ref, t->loss_work, t->loss_sums,
                                  t->stats, t->totals);
}

static vkq_status record_loss(trainer *t)
{
    uint32_t r = t->batch.n_response;
    if (!t->paired) {
        VKQ_TRY(vkq_model_loss(t->model, t->rec, t->targets, t->weights, t->losses));
        return vkq_sum(t->rec, t->losses, r, t->totals);
    }
    vkq_causal_loss_args a = t->loss;
    a.rows = r;
    a.vocab = t->mcfg.vocab_size;
    vkq_buf none = {0};
    if (t->ranks > 1)
        return record_shared_loss(t, &a, a.align == VKQ_ALIGN_KL ? vkq_model_logits(t->ref) : none);
    return vkq_causal_loss(t->rec, &a, vkq_model_dlogits(t->model), t->targets,
                           a.dce_fixed ? t->dce : none,
                           a.align == VKQ_ALIGN_KL ? vkq_model_logits(t->ref) : none, t->stats,
                           t->totals);
}

/* AdamW; on several ranks only once every rank's gradients are summed into every rank's. */
static vkq_status record_update(trainer *t)
{
    if (t->ranks > 1) {
        VKQ_TRY(vkq_rec_end(t->rec));
        VKQ_TRY(vkq_rec_submit(t->rec));
        for (uint32_t i = 0; i < vkq_model_grad_pieces(t->model); i++) {
            vkq_buf piece = vkq_model_grad_piece(t->model, i);
            VKQ_TRY(vkq_dist_sum_device(t->ctx, piece, piece.size / 4, VKQ_DIST_BUCKET_BYTES));
        }
        VKQ_TRY(vkq_rec_begin(t->rec));
    }
    return vkq_model_adamw(t->model, t->rec, t->hyper);
}

/* One micro-batch: forward, loss and backward, with AdamW after the last one. */
static vkq_status micro_step(trainer *t, int first, int last, float totals[4])
{
    next_samples(t);
    VKQ_TRY(train_batch_build(&t->batch, t->pairs, my_samples(t), t->c->batch, t->paired));
    VKQ_TRY(upload_micro_batch(t));
    uint32_t micro[] = {t->c->seed, t->st.step, t->micro};
    vkq_model_set_dropout(t->model, 1, (uint32_t)hash_more(0, micro, sizeof micro));
    VKQ_TRY(vkq_rec_begin(t->rec));
    if (first)
        VKQ_TRY(vkq_model_zero_grads(t->model, t->rec));
    VKQ_TRY(vkq_model_forward(t->model, t->rec));
    if (t->ref_each_step)
        VKQ_TRY(vkq_model_forward(t->ref, t->rec));
    VKQ_TRY(record_loss(t));
    VKQ_TRY(vkq_model_backward(t->model, t->rec));
    if (last)
        VKQ_TRY(record_update(t));
    VKQ_TRY(vkq_rec_end(t->rec));
    VKQ_TRY(vkq_rec_submit(t->rec));
    memset(totals, 0, 4 * sizeof *totals);
    if (!t->paired) {
        VKQ_TRY(vkq_buf_download(t->ctx, t->totals, 0, totals, sizeof *totals));
        totals[0] /= t->loss.grad_scale; /* the weights carried 1 / accum */
        VKQ_TRY(vkq_dist_sum(totals, 1));  /* each rank's share of the mean */
        totals[2] = totals[0];
        return VKQ_OK;
    }
    return vkq_buf_download(t->ctx, t->totals, 0, totals, 4 * sizeof *totals);
}


/* The checkpoint holds the trainable block (the adapters under LoRA) and its moments. */
static vkq_status save_checkpoint(trainer *t)
{
    if (t->rank != 0)
        return VKQ_OK;
    size_t n = vkq_model_trainable_floats(t->model);
    float *params = malloc(3 * n * sizeof *params);
    if (!params)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory saving a checkpoint");
    vkq_status s = vkq_model_download_trainable(t->model, params);
    if (s == VKQ_OK)
        s = vkq_model_download_moments(t->model, params + n, params + 2 * n);
    t->st.parameters = n;
    t->st.data_count = t->n_pairs;
    t->st.data_hash = t->data_hash;
    t->st.ranks = t->ranks;
    if (s == VKQ_OK)
        s = flush_step_file(t->log, t->log_path, 1);
    if (s == VKQ_OK)
        s = flush_step_file(t->probe, t->probe_path, 1);
    if (s == VKQ_OK)
        s = train_checkpoint_save(t->checkpoint_path, &t->st, params, params + n, params + 2 * n);
    if (s == VKQ_OK)
        s = save_model(t, params);
    free(params);
    return s;
}

static vkq_status log_step(trainer *t, const vkq_train_progress *p)
{
    if (!t->log)
        return VKQ_OK;
    fprintf(t->log,
            "{\"step\":%u,\"loss\":%.9g,\"loss_n\":%.9g,\"loss_p\":%.9g,"
            "\"share_above_delta\":%.6g,\"grad_norm\":%.6g,\"lr\":%.6g,\"tokens_per_s\":%.1f}\n",
            p->step, p->loss, p->loss_n, p->loss_p, p->share_above_delta, p->grad_norm, p->lr,
            p->tokens_per_s);
    return flush_step_file(t->log, t->log_path, 0);
}

static vkq_status train_step(trainer *t, vkq_train_progress *p)
{
    const vkq_train_config *c = t->c;
    double t0 = now_seconds(), tokens = 0;
    p->lr = learning_rate(c, t->st.step);
    VKQ_TRY(upload_hyper(t, (float)p->lr));
    double sums[4] = {0};
    for (uint32_t a = 0; a < c->accum; a++) {
        float totals[4];
        t->micro = a;
        VKQ_TRY(micro_step(t, a == 0, a + 1 == c->accum, totals));
        for (int i = 0; i < 4; i++)
            sums[i] += totals[i] / c->accum;
        tokens += t->batch.n_tokens;
    }
    VKQ_TRY(vkq_dist_sum_doubles(&tokens, 1));
    float sumsq;
    VKQ_TRY(vkq_buf_download(t->ctx, vkq_model_grad_sumsq(t->model), 0, &sumsq, sizeof sumsq));
    t->st.step++;
    p->step = t->st.step;
    p->loss_n = sums[0];
    p->loss_p = sums[1];
    p->loss = sums[2];
    p->share_above_delta = sums[3];
    p->grad_norm = sqrt(sumsq);
    p->tokens = tokens;
    p->tokens_per_s = tokens / (now_seconds() - t0);
    if (!isfinite(p->loss) || !isfinite(p->grad_norm))
        return vkq_fail(VKQ_ERR_FORMAT,
                        "step %u: the loss became %s; the last good checkpoint is %s (written "
                        "every %u steps)",
                        p->step, isnan(p->loss) ? "NaN" : "infinite", t->checkpoint_path,
                        c->save_every ? c->save_every : c->steps);
    return VKQ_OK;
}

/* The model's own DCE, p(y|x,h) - p(y|x,0), of every val response token, as one line of
 * probe.jsonl: {"step":N,"dce":[[per token of sample 0], ...]}. */
static vkq_status probe_dce(trainer *t)
{
    vkq_model_set_dropout(t->model, 0, 0);
    fprintf(t->probe, "{\"step\":%u,\"dce\":[", t->st.step);
    for (uint32_t first = 0; first < t->n_val; first += t->c->batch) {
        uint32_t n = t->n_val - first < t->c->batch ? t->n_val - first : t->c->batch;
        for (uint32_t i = 0; i < n; i++)
            t->which[i] = first + i;
        VKQ_TRY(train_batch_build(&t->batch, t->val_pairs, t->which, n, 1));
        const train_batch *b = &t->batch;
        vkq_batch vb = {b->tokens, b->n_tokens, b->offsets, b->n_seqs, b->rows, b->n_rows};
        VKQ_TRY(vkq_model_set_batch(t->model, &vb));
        VKQ_TRY(vkq_buf_upload(t->ctx, t->targets, 0, b->targets, 4ull * b->n_response));
        VKQ_TRY(vkq_rec_begin(t->rec));
        VKQ_TRY(vkq_model_forward(t->model, t->rec));
        VKQ_TRY(vkq_causal_dce(t->rec, vkq_model_logits(t->model), t->targets, t->dce,
                               b->n_response, t->mcfg.vocab_size));
        VKQ_TRY(vkq_rec_end(t->rec));
        VKQ_TRY(vkq_rec_submit(t->rec));
        VKQ_TRY(vkq_buf_download(t->ctx, t->dce, 0, t->host_dce, 4ull * b->n_response));
        const float *d = t->host_dce;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = t->val_pairs[first + i].n_response;
            fputs(first + i ? ",[" : "[", t->probe);
            for (uint32_t k = 0; k < len; k++)
                fprintf(t->probe, k ? ",%.5g" : "%.5g", d[k]);
            fputc(']', t->probe);
            d += len;
        }
    }
    fputs("]}\n", t->probe);
    return flush_step_file(t->probe, t->probe_path, 0);
}

/* Whether any rank was asked to stop: every rank then stops after the same step. */
static vkq_status stop_agreed(volatile int *stop, int *stopping)
{
    float asked = stop && *stop;
    VKQ_TRY(vkq_dist_sum(&asked, 1));
    *stopping = asked > 0;
    return VKQ_OK;
}

vkq_status vkq_train_run(vkq_ctx *ctx, const vkq_train_config *c, vkq_train_observer observer,
                         void *user, volatile int *stop)
{
    VKQ_TRY(vkq_train_config_check(c));
    trainer t = {.ctx = ctx, .c = c, .rank = (uint32_t)vkq_dist_rank(),
                 .ranks = (uint32_t)vkq_dist_size()};
    vkq_status s = trainer_init(&t);
    double start = now_seconds();
    vkq_train_progress p = {.steps = c->steps, .step = t.st.step, .memory = t.memory,
                            .memory_only = 1, .model = t.model};
    if (s == VKQ_OK && observer)
        observer(&p, user);
    p.memory_only = 0;
    int stopping = 0;
    while (s == VKQ_OK && t.st.step < c->steps && !stopping) {
        s = train_step(&t, &p);
        p.elapsed_s = now_seconds() - start;
        if (s == VKQ_OK && (c->log_every == 0 || p.step % c->log_every == 0 || p.step == c->steps))
            s = log_step(&t, &p);
        if (s == VKQ_OK && observer)
            observer(&p, user);
        if (s == VKQ_OK && t.probe && c->probe_every && p.step % c->probe_every == 0)
            s = probe_dce(&t);
        if (s == VKQ_OK && c->save_every && p.step % c->save_every == 0 && p.step < c->steps)
            s = save_checkpoint(&t);
        if (s == VKQ_OK)
            s = stop_agreed(stop, &stopping);
    }
    if (s == VKQ_OK && t.probe && (!c->probe_every || t.st.step % c->probe_every != 0))
        s = probe_dce(&t);
    if (s == VKQ_OK)
        s = save_checkpoint(&t);
    vkq_saved_error e = vkq_error_save(s);
    trainer_free(&t);
    return vkq_error_restore(&e);
}
