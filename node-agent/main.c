/* node-agent: parse, check, bind, (drop privileges), serve until SIGTERM. */
#include "agent.h"

#include "dp_clock.h"
#include "dp_git.h"
#include "dp_key.h"
#include "dp_log.h"
#include "dp_privdrop.h"
#include "dp_stage.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* With --user, the data root is that user's: uploads and clones are written as it. */
static int own_data_root(struct agent *ag, struct dp_logctx *lc)
{
    struct dp_err err = {0};
    uid_t uid;
    gid_t gid;

    if (dp_privdrop_lookup(&uid, &gid, ag->conf.user, &err)) {
        dp_log(DP_LOG_ERROR, lc, "--user: %s", err.msg);
        return -1;
    }
    if (chown(ag->conf.data_root, uid, gid) != 0) {
        dp_log(DP_LOG_ERROR, lc, "cannot give data root %s to %s: %s", ag->conf.data_root,
               ag->conf.user, strerror(errno));
        return -1;
    }
    return 0;
}

static int agent_prepare(struct agent *ag, struct dp_logctx *lc)
{
    struct dp_err err = {0};
    ssize_t n = readlink("/proc/self/exe", ag->self_exe, sizeof(ag->self_exe) - 1);

    if (n <= 0) {
        dp_log(DP_LOG_ERROR, lc, "cannot find this program's path: %s", strerror(errno));
        return -1;
    }
    ag->self_exe[n] = '\0';
    if (mkdir(ag->conf.data_root, 0750) != 0 && errno != EEXIST) {
        dp_log(DP_LOG_ERROR, lc, "cannot create data root %s: %s", ag->conf.data_root,
               strerror(errno));
        return -1;
    }
    if (ag->conf.user[0] && own_data_root(ag, lc))
        return -1;
    if (dp_stage_sweep(ag->conf.data_root, &err)) /* leftovers of a crash mid-upload */
        dp_log(DP_LOG_WARN, lc, "staging leftovers not removed: %s", err.msg);
    dp_err_clear(&err);
    dp_docker_init(&ag->docker, ag->conf.docker_socket);
    if (dp_authgate_new(&ag->gate, DP_AUTH_FAIL_MAX, DP_AUTH_FAIL_WINDOW_S, DP_AUTH_BLOCK_S,
                        DP_AUTH_TABLE_SIZE)) {
        dp_log(DP_LOG_ERROR, lc, "out of memory");
        return -1;
    }
    pthread_rwlock_init(&ag->key_lock, NULL);
    pthread_mutex_init(&ag->bake_mu, NULL);
    if (dp_health_cache_start(&ag->health, &ag->docker, ag->conf.namespace_, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return -1;
    }
    agent_load_bake_key(ag, lc);
    if (dp_key_load_file(ag->key, ag->conf.key_file, &err))
        dp_log(DP_LOG_WARN, lc, "%s; %s until a key is in place (SIGHUP re-reads it)", err.msg,
               ag->bake_key[0] ? "only the bake key's routes answer" : "every request is refused");
    ag->started_mono_s = dp_mono_s();
    return 0;
}

static int agent_serve(struct agent *ag, struct dp_logctx *lc)
{
    struct dp_httpd_opts o = {
        .listen = ag->conf.listen,
        .threads = ag->conf.threads,
        .tls_cert = ag->conf.tls_cert[0] ? ag->conf.tls_cert : NULL,
        .tls_key = ag->conf.tls_key[0] ? ag->conf.tls_key : NULL,
        .request_timeout_ms = 60000,
    };
    struct dp_err err = {0};
    sigset_t sigs;
    int sig = 0;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before mg_start: workers inherit it */
    if (dp_httpd_start(&ag->mg, &o, agent_dispatch, ag, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return 1;
    }
    /* Ports are bound (port 9999 needs no root, but a configured low port might): now drop. */
    if (ag->conf.user[0] && dp_privdrop(ag->conf.user, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        dp_httpd_stop(ag->mg, ag->conf.listen);
        return 1;
    }
    dp_log(DP_LOG_INFO, lc, "serving on %s%s version=%s namespace=%s data_root=%s", o.listen,
           o.tls_cert ? " (https)" : "", DP_VERSION,
           ag->conf.namespace_[0] ? ag->conf.namespace_ : "-", ag->conf.data_root);
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        agent_reload_key(ag);
    dp_log(DP_LOG_INFO, lc, "signal %d: stopping", sig);
    atomic_store(&ag->stopping, true);
    dp_httpd_stop(ag->mg, ag->conf.listen); /* joins workers; long operations watch ag->stopping */
    dp_log(DP_LOG_INFO, lc, "stopped");
    return 0;
}

static void agent_free(struct agent *ag)
{
    dp_authgate_free(ag->gate);
    dp_health_cache_stop(&ag->health);
    pthread_rwlock_destroy(&ag->key_lock);
    pthread_mutex_destroy(&ag->bake_mu);
    memset(ag->key, 0, sizeof(ag->key));
    memset(ag->bake_key, 0, sizeof(ag->bake_key));
}

int main(int argc, char **argv)
{
    static struct agent ag; /* big; zeroed; owned by main, passed by pointer */
    struct dp_logctx lc;
    struct dp_err err = {0};
    int rc;

    if (argc == 2 && strcmp(argv[1], DP_GIT_CHILD_ARG) == 0)
        return dp_git_child_main(); /* the clone helper (dp_git.h), before anything else */
    setlocale(LC_ALL, "C.UTF-8");   /* libarchive needs it for UTF-8 member names */
    dp_logctx_init(&lc, "agent");
    switch (agent_conf_parse(&ag.conf, argc, argv, &err)) {
    case AGENT_EXIT_USAGE:
        fprintf(stderr, "node-agent: %s\n", err.msg);
        return 2;
    case AGENT_EXIT_OK:
        if (ag.conf.help)
            agent_conf_usage(argv[0]);
        else
            printf("node-agent %s\n", DP_VERSION);
        return 0;
    case AGENT_RUN:
        break;
    }
    dp_log_set_level(ag.conf.log_level);
    if (ag.conf.check) {
        printf("configuration ok\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* once, before threads */
    json_object_seed(0);
    rc = agent_prepare(&ag, &lc) ? 1 : agent_serve(&ag, &lc);
    agent_free(&ag);
    curl_global_cleanup();
    return rc;
}
