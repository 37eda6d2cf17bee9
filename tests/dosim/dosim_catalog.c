#include "dosim_catalog.h"

#include <string.h>

/* Every slug here is in the OpenAPI region_slug enum, so image regions validate. */
const struct dosim_region dosim_regions[] = {
    {"nyc1", "New York 1", true, "5a4981aa-9653-4bd1-bef5-d6bff52042e4"},
    {"nyc2", "New York 2", false, "c140286f-e6ce-4131-8b7b-df4590ce8d6a"},
    {"nyc3", "New York 3", true, "a3f4b8c1-2d0e-4e77-9b3c-0f1e6c5d7a21"},
    {"sfo2", "San Francisco 2", true, "7e1b0c6d-3a5f-4c2e-8d9b-1f2a3b4c5d6e"},
    {"sfo3", "San Francisco 3", true, "0d3b5a8e-6f1c-4b2d-9e7a-3c4d5e6f7a8b"},
    {"ams3", "Amsterdam 3", true, "e2c4a6b8-1d3f-4a5c-8e7b-9d0f1a2b3c4d"},
    {"fra1", "Frankfurt 1", true, "4b6d8f0a-2c4e-4f6a-8b0d-2e4f6a8b0c2d"},
    {"lon1", "London 1", true, "9c1e3a5b-7d9f-4b1d-a3c5-e7f9b1d3f5a7"},
    {"sgp1", "Singapore 1", true, "1a3c5e7f-9b1d-4f3a-b5c7-d9e1f3a5c7e9"},
    {"tor1", "Toronto 1", true, "6f8a0c2e-4b6d-4a8c-9e0b-2d4f6b8d0f2a"},
    {"blr1", "Bangalore 1", true, "8d0f2b4d-6a8c-4e0a-b2d4-f6a8c0e2a4c6"},
    {"syd1", "Sydney 1", true, "3e5a7c9e-1f3b-4d5f-a7c9-b1d3e5f7b9d1"},
};
const size_t dosim_regions_count = sizeof(dosim_regions) / sizeof(dosim_regions[0]);

static const char *const small_regions[] = {"nyc1", "sfo3", "ams3", "fra1", "sgp1", NULL};

/* Prices as in the reference (s-1vcpu-1gb: $5.00 a month, $0.00744 an hour = monthly / 672). */
const struct dosim_size dosim_sizes[] = {
    {"s-1vcpu-512mb-10gb", 512, 1, 10, 0.5, 4.00, 0.00595, "Basic", small_regions},
    {"s-1vcpu-1gb", 1024, 1, 25, 1.0, 5.00, 0.00744, "Basic", NULL},
    {"s-1vcpu-2gb", 2048, 1, 50, 2.0, 10.00, 0.01488, "Basic", NULL},
    {"s-2vcpu-2gb", 2048, 2, 60, 3.0, 15.00, 0.02232, "Basic", NULL},
    {"s-2vcpu-4gb", 4096, 2, 80, 4.0, 20.00, 0.02976, "Basic", NULL},
    {"s-4vcpu-8gb", 8192, 4, 160, 5.0, 40.00, 0.05952, "Basic", NULL},
    {"s-8vcpu-16gb", 16384, 8, 320, 6.0, 80.00, 0.11905, "Basic", NULL},
    {"c-2", 4096, 2, 25, 4.0, 40.00, 0.05952, "CPU-Optimized", NULL},
    {"g-2vcpu-8gb", 8192, 2, 25, 4.0, 60.00, 0.08929, "General Purpose", NULL},
};
const size_t dosim_sizes_count = sizeof(dosim_sizes) / sizeof(dosim_sizes[0]);

const struct dosim_stock_image dosim_stock_images[] = {
    {100000011, "12 x64", "Debian", "debian-12-x64", 10, 0.96, false, "Debian 12 x64"},
    {100000012, "11 x64", "Debian", "debian-11-x64", 10, 0.91, false, "Debian 11 x64"},
    {100000021, "24.04 (LTS) x64", "Ubuntu", "ubuntu-24-04-x64", 10, 2.44, false,
     "Ubuntu 24.04 (LTS) x64"},
    {100000022, "22.04 (LTS) x64", "Ubuntu", "ubuntu-22-04-x64", 10, 2.36, false,
     "Ubuntu 22.04 (LTS) x64"},
    {100000031, "Docker on Ubuntu 22.04", "Ubuntu", "docker-20-04", 25, 4.12, true,
     "Docker and Docker Compose on Ubuntu 22.04"},
};
const size_t dosim_stock_images_count = sizeof(dosim_stock_images) / sizeof(dosim_stock_images[0]);

static const char *const region_features[] = {"backups",       "ipv6",    "metadata",
                                              "install_agent", "storage", "image_transfer"};

const struct dosim_region *dosim_region_find(const char *slug)
{
    for (size_t i = 0; slug && i < dosim_regions_count; i++) {
        if (strcmp(dosim_regions[i].slug, slug) == 0)
            return &dosim_regions[i];
    }
    return NULL;
}

const struct dosim_size *dosim_size_find(const char *slug)
{
    for (size_t i = 0; slug && i < dosim_sizes_count; i++) {
        if (strcmp(dosim_sizes[i].slug, slug) == 0)
            return &dosim_sizes[i];
    }
    return NULL;
}

bool dosim_size_in_region(const struct dosim_size *s, const struct dosim_region *r)
{
    if (!r->available)
        return false;
    if (!s->only_regions)
        return true;
    for (const char *const *p = s->only_regions; *p; p++) {
        if (strcmp(*p, r->slug) == 0)
            return true;
    }
    return false;
}

json_t *dosim_region_json(const struct dosim_region *r)
{
    json_t *features = json_array(), *sizes = json_array();

    for (size_t i = 0; r->available && i < sizeof(region_features) / sizeof(*region_features); i++)
        json_array_append_new(features, json_string(region_features[i]));
    for (size_t i = 0; i < dosim_sizes_count; i++) {
        if (dosim_size_in_region(&dosim_sizes[i], r))
            json_array_append_new(sizes, json_string(dosim_sizes[i].slug));
    }
    return json_pack("{s:s, s:s, s:o, s:b, s:o}", "name", r->name, "slug", r->slug, "features",
                     features, "available", r->available, "sizes", sizes);
}

json_t *dosim_size_json(const struct dosim_size *s)
{
    json_t *regions = json_array();

    for (size_t i = 0; i < dosim_regions_count; i++) {
        if (dosim_size_in_region(s, &dosim_regions[i]))
            json_array_append_new(regions, json_string(dosim_regions[i].slug));
    }
    return json_pack("{s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:o, s:b, s:s, s:[{s:s, s:{s:i, s:s}}]}",
                     "slug", s->slug, "memory", s->memory, "vcpus", s->vcpus, "disk", s->disk,
                     "transfer", s->transfer, "price_monthly", s->price_monthly, "price_hourly",
                     s->price_hourly, "regions", regions, "available", true, "description",
                     s->description, "disk_info", "type", "local", "size", "amount", s->disk,
                     "unit", "gib");
}

json_t *dosim_available_regions(void)
{
    json_t *a = json_array();

    for (size_t i = 0; i < dosim_regions_count; i++) {
        if (dosim_regions[i].available)
            json_array_append_new(a, json_string(dosim_regions[i].slug));
    }
    return a;
}
