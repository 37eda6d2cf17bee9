/* The snapshot service's pure parts: versions compared as numbers, agent versions read from
 * snapshot names, the newest base picked, request bodies and lists checked. */
#include "dp_snapshot.h"
#include "dp_snapshot_req.h"
#include "th.h"

static int sign(int v)
{
    return v < 0 ? -1 : v > 0;
}

static void test_version_cmp(void)
{
    TH_EQ_INT(sign(dp_snapshot_version_cmp("0.1.0", "0.1.0")), 0);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("0.10.0", "0.9.3")), 1); /* numbers, not text */
    TH_EQ_INT(sign(dp_snapshot_version_cmp("0.9.3", "0.10.0")), -1);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("1.0", "1.0.0")), 0);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("1.0.1", "1.0")), 1);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("2", "10")), -1);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("1.0.0-rc1", "1.0.0")), -1); /* a pre-release */
    TH_EQ_INT(sign(dp_snapshot_version_cmp("1.0.0", "1.0.0-rc1")), 1);
    TH_EQ_INT(sign(dp_snapshot_version_cmp("1.0.0-rc2", "1.0.0-rc10")), 1);   /* text after that */
    TH_EQ_INT(sign(dp_snapshot_version_cmp("99999999999999999999", "1")), 1); /* no overflow */
}

static void test_version_valid(void)
{
    TH_CHECK(dp_snapshot_version_valid("0.1.0"));
    TH_CHECK(dp_snapshot_version_valid("1.2.3-rc.1"));
    TH_CHECK(!dp_snapshot_version_valid(""));
    TH_CHECK(!dp_snapshot_version_valid("v1.0"));
    TH_CHECK(!dp_snapshot_version_valid("1.0 beta"));
    TH_CHECK(!dp_snapshot_version_valid("1.0/.."));
}

static void test_agent_version(void)
{
    char v[64];

    dp_snapshot_agent_version(v, sizeof(v), "base-docker-debian12-agent-0.1.0");
    TH_EQ_STR(v, "0.1.0");
    dp_snapshot_agent_version(v, sizeof(v), "custom-pg-tools-agent-0.12.3");
    TH_EQ_STR(v, "0.12.3");
    dp_snapshot_agent_version(v, sizeof(v), "my-own-snapshot");
    TH_EQ_STR(v, "");
    dp_snapshot_agent_version(v, sizeof(v), "base-docker-debian12-agent-");
    TH_EQ_STR(v, "");
    dp_snapshot_agent_version(v, sizeof(v), NULL);
    TH_EQ_STR(v, "");
}

static void test_newest_base(void)
{
    json_t *images = json_pack(
        "[{s:i, s:s, s:s}, {s:i, s:s, s:s}, {s:i, s:s, s:s}, {s:i, s:s, s:s}]", "id", 1, "name",
        "base-docker-debian12-agent-0.1.0", "created_at", "2025-01-01T00:00:00Z", "id", 2, "name",
        "custom-x-agent-0.2.0", "created_at", "2025-03-01T00:00:00Z", "id", 3, "name",
        "base-docker-debian12-agent-0.2.0", "created_at", "2025-02-01T00:00:00Z", "id", 4, "name",
        "base-docker-debian12-agent-0.2.1", "created_at", "2025-02-01T00:00:00Z");
    json_t *best = dp_snapshot_newest_base(images);

    TH_EQ_INT(json_integer_value(json_object_get(best, "id")), 4); /* same time: higher id */
    json_decref(best);
    json_array_remove(images, 3);
    json_array_remove(images, 2);
    json_array_remove(images, 0);
    TH_CHECK(dp_snapshot_newest_base(images) == NULL);
    json_decref(images);
}

static void test_req_parse(void)
{
    struct dp_snapshot_req r;
    struct dp_err err = {0};
    json_t *body = json_pack("{s:[s,s], s:s}", "regions", "sfo3", "ams3", "size", "s-2vcpu-2gb");

    TH_EQ_INT(dp_snapshot_req_parse(&r, body, DP_SNAPSHOT_BASE, &err), DP_OK);
    TH_EQ_INT(r.opts.nregions, 2);
    TH_EQ_STR(r.opts.regions[1], "ams3");
    TH_EQ_STR(r.opts.size, "s-2vcpu-2gb");
    json_decref(body);

    body = json_pack("{s:i, s:s, s:[s,s]}", "from_snapshot_id", 42, "name", "pg", "packages", "jq",
                     "postgresql-client");
    TH_EQ_INT(dp_snapshot_req_parse(&r, body, DP_SNAPSHOT_CUSTOM, &err), DP_OK);
    TH_EQ_STR(r.opts.from, "42");
    TH_EQ_INT(r.opts.npackages, 2);
    json_decref(body);

    body = json_pack("{s:s, s:[s]}", "from_snapshot_id", "base-docker-debian12-agent-0.1.0",
                     "packages", "jq;rm -rf /");
    TH_EQ_INT(dp_snapshot_req_parse(&r, body, DP_SNAPSHOT_CUSTOM, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_field");
    json_decref(body);

    body = json_pack("{s:[s]}", "regions", "NYC 3");
    TH_EQ_INT(dp_snapshot_req_parse(&r, body, DP_SNAPSHOT_BASE, &err), DP_EINVAL);
    json_decref(body);

    body = json_pack("{s:i, s:[]}", "from_snapshot_id", 42, "packages");
    TH_EQ_INT(dp_snapshot_req_parse(&r, body, DP_SNAPSHOT_CUSTOM, &err), DP_EINVAL);
    json_decref(body);
}

static void test_split(void)
{
    char list[] = "sfo3, ams3,,fra1";
    const char *out[2];
    char one[] = "nyc3";

    TH_EQ_INT(dp_snapshot_split(list, out, 2), 3); /* more than fit */
    TH_EQ_INT(dp_snapshot_split(one, out, 2), 1);
    TH_EQ_STR(out[0], "nyc3");
    TH_CHECK(dp_snapshot_package_ok("g++"));
    TH_CHECK(dp_snapshot_package_ok("libssl3"));
    TH_CHECK(!dp_snapshot_package_ok("-rf"));
    TH_CHECK(!dp_snapshot_package_ok("Jq"));
    TH_CHECK(dp_snapshot_region_ok("sfo3"));
    TH_CHECK(!dp_snapshot_region_ok("sfo3/.."));
}

int main(void)
{
    TH_RUN(test_version_cmp);
    TH_RUN(test_version_valid);
    TH_RUN(test_agent_version);
    TH_RUN(test_newest_base);
    TH_RUN(test_req_parse);
    TH_RUN(test_split);
    TH_EXIT();
}
