/* The synthetic personalization benchmark: users with hidden style preferences, their items
 * and the truth of which target bytes carry a preference (see vkquill/synth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "base/random.h"
#include "data/data_internal.h"
#include "vkquill/synth.h"

enum {
    INPUT_SIZE = 96,
    TARGET_SIZE = 160,
    TIME_SIZE = 16,
    MAX_SPANS = 8,
    PATH_SIZE = 4096,
    NOUNS = 4,
    FIRST_DAY = 19358, /* 2023-01-01, in days since 1970-01-01 */
    START_DAYS = 365,  /* a user's first item falls in 2023 */
    MAX_GAP_DAYS = 7
};

static const char *const OPENERS[] = {"Honestly,", "Well,", "Look,", "Frankly,", "Truly,",
                                      "Gosh,", NULL};
static const char *const ADJECTIVES[] = {"lovely", "stellar", "grim",  "quirky",
                                         "sleek",  "cozy",    "zesty", "snazzy", NULL};
static const char *const PUNCTS[] = {"!", ".", "...", NULL};
static const char *const SIGNOFFS[] = {"Cheers!", "Peace out.", "Onwards!", "Take care.",
                                       "Ciao!",   "Stay cool.", NULL};
static const char *const LENGTHS[] = {"short", "long", NULL};

static const char *const *const CHOICES[VKQ_SYNTH_SLOTS] = {OPENERS, ADJECTIVES, PUNCTS,
                                                            SIGNOFFS, LENGTHS};
static const char *const SLOT_NAMES[VKQ_SYNTH_SLOTS] = {"opener", "adjective", "punct",
                                                        "signoff", "length"};

typedef struct synth_category {
    const char *name;
    const char *phrase; /* follows VKQ_SYNTH_LENGTH_WORD in a long target */
    const char *nouns[NOUNS];
} synth_category;

static const synth_category CATEGORIES[] = {
    {"kitchen", "suits any kitchen", {"kettle", "toaster", "skillet", "blender"}},
    {"garden", "brightens the garden", {"hose", "rake", "planter", "lantern"}},
    {"office", "helps at the desk", {"lamp", "stapler", "chair", "notebook"}},
    {"travel", "travels well", {"backpack", "suitcase", "pillow", "bottle"}},
    {"sports", "holds up at the gym", {"racket", "helmet", "jersey", "towel"}},
    {"bath", "fits a small bathroom", {"robe", "mirror", "sponge", "shelf"}},
};
static const char *const COLOURS[] = {"blue",  "red",    "green",  "black",
                                      "white", "silver", "orange", "purple"};
static const char *const RATING_WORDS[] = {"poor", "weak", "fine", "good", "great"}; /* 1..5 */

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *vkq_synth_slot_name(vkq_synth_slot slot)
{
    return (unsigned)slot < VKQ_SYNTH_SLOTS ? SLOT_NAMES[slot] : NULL;
}

const char *const *vkq_synth_choices(vkq_synth_slot slot)
{
    return (unsigned)slot < VKQ_SYNTH_SLOTS ? CHOICES[slot] : NULL;
}

static uint32_t list_length(const char *const *list)
{
    uint32_t n = 0;
    while (list[n])
        n++;
    return n;
}

/* ---- random numbers: splitmix64, one stream a user --------------------------------------- */

/* A user's stream depends only on the seed and the user, so adding users keeps the others. */
static uint64_t user_stream(uint64_t seed, uint32_t user)
{
    uint64_t state = seed;
    uint64_t mixed = vkq_random_next(&state) ^ ((uint64_t)user * 0xD1B54A32D192ED03ull);
    return vkq_random_next(&mixed);
}

/* ---- users and items ------------------------------------------------------------------- */

typedef struct synth_item {
    char input[INPUT_SIZE];
    char target[TARGET_SIZE];
    char time[TIME_SIZE];
    vkq_synth_span spans[MAX_SPANS];
    uint32_t n_spans;
} synth_item;

typedef struct synth_user {
    char name[16];
    const char *choice[VKQ_SYNTH_SLOTS];
    synth_item *items; /* oldest first */
    uint32_t n_items;
} synth_user;

/* Appends text to the target, as a span of slot unless slot is negative (fixed text). The
 * lists bound every target well below TARGET_SIZE. */
static void put(synth_item *item, const char *text, int slot)
{
    size_t start = strlen(item->target);
    snprintf(item->target + start, TARGET_SIZE - start, "%s", text);
    if (slot >= 0 && item->n_spans < MAX_SPANS)
        item->spans[item->n_spans++] =
            (vkq_synth_span){(uint32_t)start, (uint32_t)strlen(item->target),
                             (vkq_synth_slot)slot};
}

static void build_target(const synth_user *u, const synth_category *c, const char *noun,
                         const char *colour, uint32_t rating, synth_item *item)
{
    const char *punct = u->choice[VKQ_SYNTH_PUNCT];
    char body[TARGET_SIZE];
    snprintf(body, sizeof body, " the %s %s is %s and ", colour, noun, RATING_WORDS[rating - 1]);
    put(item, u->choice[VKQ_SYNTH_OPENER], VKQ_SYNTH_OPENER);
    put(item, body, -1);
    put(item, u->choice[VKQ_SYNTH_ADJECTIVE], VKQ_SYNTH_ADJECTIVE);
    put(item, punct, VKQ_SYNTH_PUNCT);
    if (strcmp(u->choice[VKQ_SYNTH_LENGTH], "long") == 0) {
        put(item, " ", -1);
        put(item, VKQ_SYNTH_LENGTH_WORD, VKQ_SYNTH_LENGTH);
        snprintf(body, sizeof body, " %s", c->phrase);
        put(item, body, -1);
        put(item, punct, VKQ_SYNTH_PUNCT);
    }
    put(item, " ", -1);
    put(item, u->choice[VKQ_SYNTH_SIGNOFF], VKQ_SYNTH_SIGNOFF);
}

static void format_day(uint32_t day, char *out)
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, TIME_SIZE, "%Y-%m-%d", &tm);
}

static void make_item(const synth_user *u, uint64_t *rng, uint32_t day, synth_item *item)
{
    memset(item, 0, sizeof *item);
    const synth_category *c = &CATEGORIES[vkq_random_below(rng, COUNT_OF(CATEGORIES))];
    const char *noun = c->nouns[vkq_random_below(rng, NOUNS)];
    const char *colour = COLOURS[vkq_random_below(rng, COUNT_OF(COLOURS))];
    uint32_t rating = 1 + vkq_random_below(rng, COUNT_OF(RATING_WORDS));
    snprintf(item->input, sizeof item->input, "item: %s %s; category: %s; rating: %u", colour,
             noun, c->name, rating);
    build_target(u, c, noun, colour, rating, item);
    format_day(day, item->time);
}

static vkq_status make_user(const vkq_synth_options *o, uint32_t index, synth_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "user%03u", index + 1);
    uint64_t rng = user_stream(o->seed, index);
    for (int s = 0; s < VKQ_SYNTH_SLOTS; s++)
        u->choice[s] = CHOICES[s][vkq_random_below(&rng, list_length(CHOICES[s]))];
    u->items = calloc(o->per_user, sizeof *u->items);
    if (!u->items)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %u synthetic items", o->per_user);
    u->n_items = o->per_user;
    uint32_t day = FIRST_DAY + vkq_random_below(&rng, START_DAYS);
    for (uint32_t i = 0; i < u->n_items; i++) {
        day += 1 + vkq_random_below(&rng, MAX_GAP_DAYS);
        make_item(u, &rng, day, &u->items[i]);
    }
    return VKQ_OK;
}

static void free_user(synth_user *u)
{
    free(u->items);
    memset(u, 0, sizeof *u);
}

/* ---- splits ---------------------------------------------------------------------------- */

typedef enum split { SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, SPLITS } split;

static const char *const SPLIT_NAMES[SPLITS] = {"train", "val", "test"};

/* The items [first, first + count) of a user that form the split: train all but the last
 * two, val the one before the last, test the last. */
static void split_range(split s, uint32_t per_user, uint32_t *first, uint32_t *count)
{
    *first = s == SPLIT_TRAIN ? 0 : s == SPLIT_VAL ? per_user - 2 : per_user - 1;
    *count = s == SPLIT_TRAIN ? per_user - 2 : 1;
}

/* ---- JSON lines ------------------------------------------------------------------------ */

static int add_string(cJSON *o, const char *key, const char *value)
{
    return cJSON_AddStringToObject(o, key, value) != NULL;
}

static int add_history(cJSON *o, const synth_user *u, uint32_t index)
{
    cJSON *history = cJSON_AddArrayToObject(o, "history");
    if (!history)
        return 0;
    for (uint32_t i = index; i-- > 0;) {
        cJSON *h = cJSON_CreateObject();
        if (!h)
            return 0;
        cJSON_AddItemToArray(history, h);
        const synth_item *item = &u->items[i];
        if (!add_string(h, "input", item->input) || !add_string(h, "output", item->target) ||
            !add_string(h, "time", item->time))
            return 0;
    }
    return 1;
}

static cJSON *sample_json(const synth_user *u, uint32_t index)
{
    const synth_item *item = &u->items[index];
    cJSON *o = cJSON_CreateObject();
    if (o && add_string(o, "user", u->name) && add_string(o, "input", item->input) &&
        add_string(o, "target", item->target) && add_history(o, u, index))
        return o;
    cJSON_Delete(o);
    return NULL;
}

static int add_slots(cJSON *o, const synth_user *u)
{
    cJSON *slots = cJSON_AddObjectToObject(o, "slots");
    for (int s = 0; slots && s < VKQ_SYNTH_SLOTS; s++)
        if (!add_string(slots, SLOT_NAMES[s], u->choice[s]))
            return 0;
    return slots != NULL;
}

static int add_spans(cJSON *o, const synth_item *item)
{
    cJSON *spans = cJSON_AddArrayToObject(o, "spans");
    for (uint32_t i = 0; spans && i < item->n_spans; i++) {
        const vkq_synth_span *s = &item->spans[i];
        cJSON *span = cJSON_CreateArray();
        if (!span)
            return 0;
        cJSON_AddItemToArray(spans, span);
        if (!cJSON_AddItemToArray(span, cJSON_CreateNumber(s->start)) ||
            !cJSON_AddItemToArray(span, cJSON_CreateNumber(s->end)) ||
            !cJSON_AddItemToArray(span, cJSON_CreateString(SLOT_NAMES[s->slot])))
            return 0;
    }
    return spans != NULL;
}

static cJSON *truth_json(split s, uint32_t line, const synth_user *u, uint32_t index)
{
    const synth_item *item = &u->items[index];
    cJSON *o = cJSON_CreateObject();
    if (o && add_string(o, "split", SPLIT_NAMES[s]) && cJSON_AddNumberToObject(o, "line", line) &&
        add_string(o, "user", u->name) && add_string(o, "target", item->target) &&
        add_slots(o, u) && add_spans(o, item))
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* ---- files ----------------------------------------------------------------------------- */

typedef struct file_job {
    const vkq_synth_options *o;
    split which; /* the split to write; SPLITS: the truth file of every split */
} file_job;

/* Writes the lines of split s, one user after another, as samples or as truth lines. */
static vkq_status write_split(const char *path, FILE *f, const vkq_synth_options *o, split s,
                              int truth)
{
    uint32_t first, count;
    split_range(s, o->per_user, &first, &count);
    vkq_status status = VKQ_OK;
    for (uint32_t u = 0; u < o->users && status == VKQ_OK; u++) {
        synth_user user;
        status = make_user(o, u, &user);
        for (uint32_t i = 0; i < count && status == VKQ_OK; i++) {
            cJSON *line = truth ? truth_json(s, u * count + i + 1, &user, first + i)
                                : sample_json(&user, first + i);
            status = vkq_write_json_line(path, f, line);
        }
        free_user(&user);
    }
    return status;
}

static vkq_status write_file(const char *path, FILE *f, void *user)
{
    const file_job *job = user;
    if (job->which != SPLITS)
        return write_split(path, f, job->o, job->which, 0);
    for (split s = 0; s < SPLITS; s++)
        VKQ_TRY(write_split(path, f, job->o, s, 1));
    return VKQ_OK;
}

static vkq_status check_options(const vkq_synth_options *o, const char *out_dir)
{
    if (!o || !out_dir)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_synth_write: NULL argument");
    if (o->users < 1 || o->users > VKQ_SYNTH_MAX_USERS)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "synthetic data: the number of users must be 1 to %d, got %u",
                        VKQ_SYNTH_MAX_USERS, o->users);
    if (o->per_user < VKQ_SYNTH_MIN_PER_USER)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "synthetic data: at least %d items per user are needed (train, val "
                        "and test), got %u",
                        VKQ_SYNTH_MIN_PER_USER, o->per_user);
    if (o->per_user > VKQ_SYNTH_MAX_PER_USER)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "synthetic data: at most %d items per user, got %u",
                        VKQ_SYNTH_MAX_PER_USER, o->per_user);
    return VKQ_OK;
}

vkq_status vkq_synth_write(const vkq_synth_options *o, const char *out_dir)
{
    VKQ_TRY(check_options(o, out_dir));
    VKQ_TRY(vkq_make_dirs(out_dir));
    static const char *const FILES[SPLITS + 1] = {"train.jsonl", "val.jsonl", "test.jsonl",
                                                  "truth.jsonl"};
    for (split s = 0; s <= SPLITS; s++) {
        char path[PATH_SIZE];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", out_dir, FILES[s]) >= sizeof path)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: the path is too long", out_dir);
        file_job job = {o, s};
        VKQ_TRY(vkq_write_atomic(path, write_file, &job));
    }
    return VKQ_OK;
}
