#include "dosim_seed.h"

#include "dosim_agent.h"
#include "dosim_tree.h"

#include "dp_untar.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool seed_exists(const struct dosim *sim)
{
    for (size_t i = 0; i < sim->st.images.n; i++) {
        const struct dosim_image *im = sim->st.images.v[i];

        if (!im->public_ && strcmp(im->name, sim->conf.seed_snapshot) == 0)
            return true;
    }
    return false;
}

static dp_rc seed_regions(json_t *regions, const char *list, struct dp_err *err)
{
    char buf[256], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", list);
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        const struct dosim_region *r = dosim_region_find(s);

        if (!r || !r->available)
            return dp_err_set(err, DP_EINVAL, "--seed-regions: '%s' is not an available region", s);
        if (!dosim_strs_has(regions, s))
            json_array_append_new(regions, json_string(s));
    }
    if (json_array_size(regions) == 0)
        return dp_err_set(err, DP_EINVAL, "--seed-regions names no region");
    return DP_OK;
}

static long read_fd(void *ud, void *buf, size_t size)
{
    ssize_t n;

    do
        n = read(*(int *)ud, buf, size);
    while (n < 0 && errno == EINTR);
    return (long)n;
}

/* The package unpacked into <dir>/root, and the unit enabled, as the bake's user-data does. */
static dp_rc install(const char *dir, const char *package, unsigned long long *bytes,
                     struct dp_err *err)
{
    char root[DOSIM_FILE_MAX];
    int fd = open(package, O_RDONLY | O_CLOEXEC), root_fd = -1;
    struct dp_untar_opts o = {.data_root = dir, .path = "/root", .read = read_fd, .read_ud = &fd};
    struct dp_untar_result res;
    dp_rc rc;

    if (fd < 0)
        return dp_err_set(err, DP_EIO,
                          "cannot read the agent package %s: %s (build it, or give "
                          "--agent-package)",
                          package, strerror(errno));
    snprintf(root, sizeof(root), "%s/root", dir);
    rc = dosim_mkdirs_abs(root, 0755, err);
    if (!rc)
        rc = dp_untar(&res, &o, err);
    close(fd);
    if (!rc && (root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = dp_err_set(err, DP_EIO, "cannot open %s", root);
    if (!rc)
        rc = dosim_agent_enable(root_fd, true, err);
    if (root_fd >= 0)
        close(root_fd);
    *bytes = rc ? 0 : res.bytes;
    return rc;
}

dp_rc dosim_seed(struct dosim *sim, struct dp_err *err)
{
    struct dosim_image *im;
    unsigned long long bytes = 0;
    dp_rc rc;

    if (!sim->conf.seed_snapshot[0] || seed_exists(sim))
        return DP_OK;
    im = dosim_image_alloc(&sim->st);
    if (!im)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    snprintf(im->name, sizeof(im->name), "%s", sim->conf.seed_snapshot);
    snprintf(im->distribution, sizeof(im->distribution), "Debian");
    snprintf(im->dir, sizeof(im->dir), "%s/images/%lld", sim->state_dir, im->id);
    im->min_disk_size = 25;
    im->source_droplet = DOSIM_SEED_SOURCE;
    rc = seed_regions(im->regions, sim->conf.seed_regions, err);
    if (!rc)
        rc = install(im->dir, sim->agent_package, &bytes, err);
    if (!rc && (!dosim_tag_ensure(&sim->st, "dp-managed") || !dosim_vec_push(&sim->st.images, im)))
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    if (rc) {
        dosim_tree_remove(im->dir, NULL);
        dosim_image_free(im);
        return rc;
    }
    json_array_append_new(im->tags, json_string("dp-managed"));
    im->size_gigabytes = fmax(0.01, ceil((double)bytes / 1e7) / 100.0);
    dp_log(DP_LOG_INFO, &sim->log, "seed snapshot '%s' is image %lld", im->name, im->id);
    return DP_OK;
}
