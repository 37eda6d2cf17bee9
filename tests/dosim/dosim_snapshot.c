/* Snapshots (a copy of the droplet's root becomes a private image), transfers (a region is
 * added when the action completes) and image removal. */
#include "dosim_droplet.h"

#include "dosim_tree.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Under mu: a finished copy becomes the image DigitalOcean would show. */
static void fill_snapshot(struct dosim_image *im, const struct dosim_droplet *d, const char *name,
                          unsigned long long bytes)
{
    const char *dist = json_string_value(json_object_get(d->image, "distribution"));
    double gb = ceil((double)bytes / 1e7) / 100.0; /* GB, two decimals, rounded up */

    snprintf(im->name, sizeof(im->name), "%s", name);
    snprintf(im->distribution, sizeof(im->distribution), "%s", dist ? dist : "Unknown");
    json_array_append_new(im->regions, json_string(d->region->slug));
    im->min_disk_size = d->size->disk;
    im->size_gigabytes = gb < 0.01 ? 0.01 : gb;
    im->source_droplet = d->id;
}

static dp_rc copy_root(struct dosim *sim, const struct dosim_droplet *d, struct dosim_image *im,
                       unsigned long long *bytes, struct dp_err *err)
{
    char src[DOSIM_FILE_MAX], dst[DOSIM_FILE_MAX];
    dp_rc rc;

    snprintf(im->dir, sizeof(im->dir), "%s/images/%lld", sim->state_dir, im->id);
    snprintf(src, sizeof(src), "%s/root", d->dir);
    snprintf(dst, sizeof(dst), "%s/root", im->dir);
    rc = dosim_mkdirs_abs(im->dir, 0755, err);
    if (!rc)
        rc = dosim_tree_copy(src, dst, bytes, err);
    return rc;
}

void dosim_job_snapshot(struct dosim *sim, struct dosim_job *job, FILE *log)
{
    struct dosim_droplet *d = job->d;
    struct dosim_image *im = NULL;
    struct dp_err err = {0};
    unsigned long long bytes = 0;
    dp_rc rc = DP_ENOMEM;

    pthread_mutex_lock(&sim->mu);
    if (!job->errored && sim->st.images.n < DOSIM_IMAGES_MAX)
        im = dosim_image_alloc(&sim->st);
    pthread_mutex_unlock(&sim->mu);
    if (im)
        rc = copy_root(sim, d, im, &bytes, &err);
    if (im && rc)
        fprintf(log, "dosim: snapshot failed: %s\n", err.msg);
    pthread_mutex_lock(&sim->mu);
    if (!rc) {
        fill_snapshot(im, d, job->a->arg, bytes);
        if (dosim_vec_push(&sim->st.images, im))
            json_array_append_new(d->snapshot_ids, json_integer(im->id));
        else
            rc = DP_ENOMEM;
    }
    dosim_job_finish(sim, job, rc == DP_OK);
    pthread_mutex_unlock(&sim->mu);
    fprintf(log, "dosim: snapshot %s%s\n", rc ? "" : "done: image ",
            rc ? (job->errored ? "errored (injected fault)" : "failed") : job->a->arg);
    if (rc && im)
        dosim_image_discard(im);
}

void dosim_job_transfer(struct dosim *sim, struct dosim_job *job)
{
    struct dosim_image *im = job->im;
    bool ok;

    pthread_mutex_lock(&sim->mu);
    ok = im && !im->deleted && !job->errored;
    if (ok && !dosim_strs_has(im->regions, job->a->arg))
        json_array_append_new(im->regions, json_string(job->a->arg));
    dosim_job_finish(sim, job, ok);
    pthread_mutex_unlock(&sim->mu);
}

bool dosim_image_detach(struct dosim *sim, struct dosim_image *im)
{
    struct dosim_droplet *src = dosim_droplet_find(&sim->st, im->source_droplet);

    dosim_vec_remove(&sim->st.images, im);
    im->deleted = true;
    for (size_t i = src ? json_array_size(src->snapshot_ids) : 0; i-- > 0;) {
        if (json_integer_value(json_array_get(src->snapshot_ids, i)) == im->id)
            json_array_remove(src->snapshot_ids, i);
    }
    dosim_changed(sim);
    return dosim_image_unref(im);
}

void dosim_image_discard(struct dosim_image *im)
{
    if (im->dir[0])
        dosim_tree_remove(im->dir, NULL);
    dosim_image_free(im);
}
