/* snapshot-builder: parse, connect to DigitalOcean (DO_TOKEN, DO_API_URL), run one command.
 * SIGINT and SIGTERM are taken by a thread with sigwait: the first cancels a bake, rebuild or
 * transfer (a bake droplet is still deleted; exit 130), a second one during that clean-up
 * quits at once; list and delete (one short request each) quit at once.
 *
 * Test hooks, outside --help (tests/it/snapshot_builder.sh uses them):
 *   DP_VERSION_OVERRIDE=V     the agent version bake and rebuild put in names (instead of
 *                             VERSION), so a test can move VERSION without a rebuild
 *   DP_TEST_BAKE_USER_DATA=F  send file F as the bake's user-data instead of the rendered one
 *                             (a document that installs no agent) */
#include "snap.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_USER_DATA_MAX (64L * 1024)

static void say(const char *msg)
{
    ssize_t n = write(STDERR_FILENO, msg, strlen(msg));

    (void)n;
}

/* Takes SIGINT/SIGTERM for the whole process (they are blocked in every other thread). */
static void *signal_thread(void *arg)
{
    struct snap *s = arg;
    sigset_t sigs;
    int sig;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    while (sigwait(&sigs, &sig) == 0) {
        if (s->cmd == SNAP_LIST || s->cmd == SNAP_DELETE) {
            say("\ninterrupted\n"); /* one short request: nothing to clean up */
            _exit(SNAP_EXIT_INTERRUPTED);
        }
        if (atomic_fetch_add(&s->interrupts, 1) == 0) {
            say("\ninterrupted: stopping; a bake droplet is deleted first (again to quit at "
                "once)\n");
            continue;
        }
        say("quit without clean-up: a bake droplet may remain (tag " DP_BAKE_TAG
            "); the next bake deletes it\n");
        _exit(SNAP_EXIT_INTERRUPTED);
    }
    return NULL;
}

static int signals_start(struct snap *s)
{
    sigset_t sigs;
    pthread_t t;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        pthread_create(&t, NULL, signal_thread, s) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

/* The test hooks (see the top of this file). */
static int test_hooks(struct snap *s)
{
    const char *v = getenv("DP_VERSION_OVERRIDE"), *ud = getenv("DP_TEST_BAKE_USER_DATA");
    FILE *f;
    long n = 0;

    s->version = DP_VERSION;
    if (v && *v) {
        fprintf(stderr, "DP_VERSION_OVERRIDE: names carry agent version %s (test use)\n", v);
        s->version = v;
    }
    if (!ud || !*ud)
        return 0;
    f = fopen(ud, "re");
    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || n > TEST_USER_DATA_MAX ||
        fseek(f, 0, SEEK_SET) || !(s->test_user_data = calloc(1, (size_t)n + 1)) ||
        fread(s->test_user_data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "DP_TEST_BAKE_USER_DATA: cannot read %s (at most 64 KiB)\n", ud);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    fprintf(stderr, "DP_TEST_BAKE_USER_DATA: the bake sends %s as its user-data (test use)\n", ud);
    return 0;
}

static int run(struct snap *s)
{
    switch (s->cmd) {
    case SNAP_BAKE_BASE:
    case SNAP_BAKE_CUSTOM:
        return snap_cmd_bake(s);
    case SNAP_REBUILD:
        return snap_cmd_rebuild(s);
    case SNAP_LIST:
        return snap_cmd_list(s);
    case SNAP_TRANSFER:
        return snap_cmd_transfer(s);
    case SNAP_DELETE:
        return snap_cmd_delete(s);
    }
    return SNAP_EXIT_USAGE;
}

static int connect_cloud(struct snap *s)
{
    struct dp_err err = {0};

    if (dp_do_from_env(&s->cloud, &err) == DP_OK) {
        dp_snapshot_client_tune(s->cloud);
        return SNAP_EXIT_OK;
    }
    snap_out_error(s, &err);
    return SNAP_EXIT_CONFIG;
}

int main(int argc, char **argv)
{
    struct snap *s = calloc(1, sizeof(*s));
    bool done = false;
    int code;

    if (!s)
        return SNAP_EXIT_FAILED;
    code = snap_conf_parse(s, argc, argv, &done);
    if (done || code != SNAP_EXIT_OK) {
        free(s);
        return code;
    }
    dp_log_set_level(s->conf.log_level);
    dp_logctx_init(&s->log, "snap");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snap_out_init(s);
    if (signals_start(s) || test_hooks(s))
        code = SNAP_EXIT_FAILED;
    if (code == SNAP_EXIT_OK)
        code = connect_cloud(s);
    if (code == SNAP_EXIT_OK)
        code = run(s);
    if (code != SNAP_EXIT_OK && atomic_load(&s->interrupts) > 0)
        code = SNAP_EXIT_INTERRUPTED;
    dp_do_free(s->cloud);
    free(s->test_user_data);
    curl_global_cleanup();
    free(s);
    return code;
}
