#include "dosim_state.h"

#include "dp_clock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIRST_DROPLET_ID 400000001LL
#define FIRST_IMAGE_ID   160000001LL
#define FIRST_ACTION_ID  1500000001LL
#define FIRST_KEY_ID     41000001LL

bool dosim_vec_push(struct dosim_vec *vec, void *p)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 16;
        void **v = realloc(vec->v, cap * sizeof(*v));

        if (!v)
            return false;
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = p;
    return true;
}

bool dosim_vec_remove(struct dosim_vec *vec, const void *p)
{
    for (size_t i = 0; i < vec->n; i++) {
        if (vec->v[i] == p) {
            memmove(&vec->v[i], &vec->v[i + 1], (vec->n - i - 1) * sizeof(*vec->v));
            vec->n--;
            return true;
        }
    }
    return false;
}

static struct dosim_image *stock_image(const struct dosim_stock_image *s)
{
    struct dosim_image *im = calloc(1, sizeof(*im));

    if (!im)
        return NULL;
    im->id = s->id;
    snprintf(im->name, sizeof(im->name), "%s", s->name);
    snprintf(im->type, sizeof(im->type), "base");
    snprintf(im->distribution, sizeof(im->distribution), "%s", s->distribution);
    snprintf(im->slug, sizeof(im->slug), "%s", s->slug);
    snprintf(im->created_at, sizeof(im->created_at), "2024-06-10T12:00:00Z");
    snprintf(im->description, sizeof(im->description), "%s", s->description);
    im->public_ = true;
    im->application = s->application;
    im->min_disk_size = s->min_disk_size;
    im->size_gigabytes = s->size_gigabytes;
    im->regions = dosim_available_regions();
    im->tags = json_array();
    im->refs = 1;
    return im;
}

int dosim_state_init(struct dosim_state *st)
{
    memset(st, 0, sizeof(*st));
    st->next_droplet = FIRST_DROPLET_ID;
    st->next_image = FIRST_IMAGE_ID;
    st->next_action = FIRST_ACTION_ID;
    st->next_key = FIRST_KEY_ID;
    for (size_t i = 0; i < dosim_stock_images_count; i++) {
        struct dosim_image *im = stock_image(&dosim_stock_images[i]);

        if (!im || !dosim_vec_push(&st->images, im)) {
            dosim_image_free(im);
            return -1;
        }
    }
    return 0;
}

static void free_droplet(struct dosim_droplet *d)
{
    json_decref(d->image);
    json_decref(d->tags);
    json_decref(d->snapshot_ids);
    json_decref(d->features);
    free(d->user_data);
    pthread_mutex_destroy(&d->work_mu);
    free(d);
}

void dosim_state_clear(struct dosim_state *st)
{
    for (size_t i = 0; i < st->droplets.n; i++) {
        struct dosim_droplet *d = st->droplets.v[i];

        dosim_ip_release(&d->ip);
        free_droplet(d);
    }
    for (size_t i = 0; i < st->images.n; i++)
        dosim_image_free(st->images.v[i]);
    for (size_t i = 0; i < st->actions.n; i++)
        free(st->actions.v[i]);
    for (size_t i = 0; i < st->keys.n; i++) {
        struct dosim_key *k = st->keys.v[i];

        free(k->public_key);
        free(k);
    }
    for (size_t i = 0; i < st->tags.n; i++)
        free(st->tags.v[i]);
    free(st->droplets.v);
    free(st->images.v);
    free(st->actions.v);
    free(st->keys.v);
    free(st->tags.v);
    memset(st, 0, sizeof(*st));
}

struct dosim_droplet *dosim_droplet_find(const struct dosim_state *st, long long id)
{
    for (size_t i = 0; i < st->droplets.n; i++) {
        struct dosim_droplet *d = st->droplets.v[i];

        if (d->id == id)
            return d;
    }
    return NULL;
}

struct dosim_image *dosim_image_find(const struct dosim_state *st, long long id)
{
    for (size_t i = 0; i < st->images.n; i++) {
        struct dosim_image *im = st->images.v[i];

        if (im->id == id)
            return im;
    }
    return NULL;
}

struct dosim_image *dosim_image_find_slug(const struct dosim_state *st, const char *slug)
{
    for (size_t i = 0; i < st->images.n; i++) {
        struct dosim_image *im = st->images.v[i];

        if (im->slug[0] && strcmp(im->slug, slug) == 0)
            return im;
    }
    return NULL;
}

struct dosim_action *dosim_action_find(const struct dosim_state *st, long long id)
{
    /* Ids grow with the list: a binary search keeps long runs cheap. */
    size_t lo = 0, hi = st->actions.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct dosim_action *a = st->actions.v[mid];

        if (a->id == id)
            return a;
        if (a->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct dosim_key *dosim_key_find(const struct dosim_state *st, const char *id_or_fp)
{
    char *end;
    long long id = strtoll(id_or_fp, &end, 10);
    bool numeric = *id_or_fp && !*end;

    for (size_t i = 0; i < st->keys.n; i++) {
        struct dosim_key *k = st->keys.v[i];

        if (numeric ? k->id == id : strcmp(k->fingerprint, id_or_fp) == 0)
            return k;
    }
    return NULL;
}

struct dosim_tag *dosim_tag_find(const struct dosim_state *st, const char *name)
{
    for (size_t i = 0; i < st->tags.n; i++) {
        struct dosim_tag *t = st->tags.v[i];

        if (strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

struct dosim_tag *dosim_tag_find_ci(const struct dosim_state *st, const char *name)
{
    for (size_t i = 0; i < st->tags.n; i++) {
        struct dosim_tag *t = st->tags.v[i];

        if (strcasecmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

bool dosim_tag_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > DOSIM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!isalnum(c) && c != '_' && c != '-' && c != ':')
            return false;
    }
    return true;
}

struct dosim_tag *dosim_tag_ensure(struct dosim_state *st, const char *name)
{
    struct dosim_tag *t = dosim_tag_find_ci(st, name);

    if (t)
        return t;
    if (st->tags.n >= DOSIM_TAGS_MAX || !dosim_tag_name_ok(name))
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (!dosim_vec_push(&st->tags, t)) {
        free(t);
        return NULL;
    }
    return t;
}

void dosim_strs_remove(json_t *arr, const char *s)
{
    for (size_t i = json_array_size(arr); i-- > 0;) {
        if (strcmp(json_string_value(json_array_get(arr, i)), s) == 0)
            json_array_remove(arr, i);
    }
}

void dosim_tag_delete(struct dosim_state *st, struct dosim_tag *t)
{
    for (size_t i = 0; i < st->droplets.n; i++)
        dosim_strs_remove(((struct dosim_droplet *)st->droplets.v[i])->tags, t->name);
    for (size_t i = 0; i < st->images.n; i++)
        dosim_strs_remove(((struct dosim_image *)st->images.v[i])->tags, t->name);
    dosim_vec_remove(&st->tags, t);
    free(t);
}

bool dosim_strs_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

struct dosim_droplet *dosim_droplet_alloc(struct dosim_state *st)
{
    struct dosim_droplet *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->tags = json_array();
    d->snapshot_ids = json_array();
    d->features = json_array();
    if (!d->tags || !d->snapshot_ids || !d->features) {
        json_decref(d->tags);
        json_decref(d->snapshot_ids);
        json_decref(d->features);
        free(d);
        return NULL;
    }
    d->id = st->next_droplet++;
    d->ip = (struct dosim_ip)DOSIM_IP_INIT;
    d->agent_exit = -1;
    d->refs = 1;
    pthread_mutex_init(&d->work_mu, NULL);
    dp_wall_rfc3339(d->created_at, sizeof(d->created_at));
    return d;
}

void dosim_droplet_ref(struct dosim_droplet *d)
{
    d->refs++;
}

void dosim_droplet_unref(struct dosim_droplet *d)
{
    if (d && --d->refs == 0)
        free_droplet(d);
}

struct dosim_image *dosim_image_alloc(struct dosim_state *st)
{
    struct dosim_image *im = calloc(1, sizeof(*im));

    if (!im)
        return NULL;
    im->regions = json_array();
    im->tags = json_array();
    if (!im->regions || !im->tags) {
        dosim_image_free(im);
        return NULL;
    }
    im->id = st->next_image++;
    im->refs = 1;
    snprintf(im->type, sizeof(im->type), "snapshot");
    dp_wall_rfc3339(im->created_at, sizeof(im->created_at));
    return im;
}

void dosim_image_ref(struct dosim_image *im)
{
    im->refs++;
}

bool dosim_image_unref(struct dosim_image *im)
{
    return im && --im->refs == 0;
}

void dosim_image_free(struct dosim_image *im)
{
    if (!im)
        return;
    json_decref(im->regions);
    json_decref(im->tags);
    free(im);
}

struct dosim_action *dosim_action_add(struct dosim_state *st, const char *type,
                                      const char *resource_type, long long resource_id,
                                      const struct dosim_region *region, int64_t due_ms)
{
    struct dosim_action *a;

    if (st->actions.n >= DOSIM_ACTIONS_MAX)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->id = st->next_action++;
    snprintf(a->status, sizeof(a->status), "in-progress");
    snprintf(a->type, sizeof(a->type), "%s", type);
    snprintf(a->resource_type, sizeof(a->resource_type), "%s", resource_type);
    a->resource_id = resource_id;
    a->region = region;
    a->due_ms = due_ms;
    dp_wall_rfc3339(a->started_at, sizeof(a->started_at));
    if (!dosim_vec_push(&st->actions, a)) {
        free(a);
        return NULL;
    }
    return a;
}

void dosim_action_finish(struct dosim_action *a, bool ok)
{
    snprintf(a->status, sizeof(a->status), "%s", ok ? "completed" : "errored");
    dp_wall_rfc3339(a->completed_at, sizeof(a->completed_at));
    a->claimed = false;
}

void dosim_tag_counts(const struct dosim_state *st, const char *name, long long *droplets,
                      long long *last_droplet, long long *images, long long *last_image)
{
    *droplets = *images = 0;
    *last_droplet = *last_image = 0;
    for (size_t i = 0; i < st->droplets.n; i++) {
        const struct dosim_droplet *d = st->droplets.v[i];

        if (dosim_strs_has(d->tags, name)) {
            (*droplets)++;
            *last_droplet = d->id;
        }
    }
    for (size_t i = 0; i < st->images.n; i++) {
        const struct dosim_image *im = st->images.v[i];

        if (dosim_strs_has(im->tags, name)) {
            (*images)++;
            *last_image = im->id;
        }
    }
}
