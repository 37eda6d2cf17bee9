/* What the simulated cloud offers and never changes: regions, sizes and the stock public
 * images, with DigitalOcean's slugs and shapes. */
#ifndef DOSIM_CATALOG_H
#define DOSIM_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct dosim_region {
    const char *slug;
    const char *name;
    bool available;
    const char *vpc_uuid; /* the region's default VPC */
};

struct dosim_size {
    const char *slug;
    int memory; /* MB */
    int vcpus;
    int disk;        /* GB */
    double transfer; /* TB */
    double price_monthly, price_hourly;
    const char *description;
    const char *const *only_regions; /* NULL: every available region */
};

struct dosim_stock_image {
    long long id;
    const char *name;
    const char *distribution;
    const char *slug;
    int min_disk_size;
    double size_gigabytes;
    bool application; /* the query filter type=application, else type=distribution */
    const char *description;
};

extern const struct dosim_region dosim_regions[];
extern const size_t dosim_regions_count;
extern const struct dosim_size dosim_sizes[];
extern const size_t dosim_sizes_count;
extern const struct dosim_stock_image dosim_stock_images[];
extern const size_t dosim_stock_images_count;

/* Lookups by exact slug; NULL when unknown. */
const struct dosim_region *dosim_region_find(const char *slug);
const struct dosim_size *dosim_size_find(const char *slug);

/* True when size can be created in region (the region is available and offers it). */
bool dosim_size_in_region(const struct dosim_size *s, const struct dosim_region *r);

/* {"slug","name","available","features","sizes"}; {"slug","memory",...,"regions"}. New refs. */
json_t *dosim_region_json(const struct dosim_region *r);
json_t *dosim_size_json(const struct dosim_size *s);

/* The slugs of every available region, as a new JSON array. */
json_t *dosim_available_regions(void);

#endif
