/* controller: parse, open the store (migrate, mark interrupted deploys), make admin on a new
 * database, connect to DigitalOcean when a token is set, serve until SIGTERM. */
#include "ctl.h"

#include "cloudinit.h"
#include "dp_do_droplet.h"
#include "dp_log.h"
#include "dp_snapshot_jobs.h"
#include "dp_spool.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <locale.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cloudinit's renderer in the shape infra's fleet expects (infra does not link cloudinit). */
static dp_rc render_user_data(void *ud, struct dp_buf *out, const char *agent_key,
                              const char *cert_pem, const char *key_pem, struct dp_err *err)
{
    struct ctl *c = ud;
    struct cloudinit_provision in = {.agent_key = agent_key,
                                     .tls_cert_pem = cert_pem,
                                     .tls_key_pem = key_pem,
                                     .allow = c->allow,
                                     .nallow = c->nallow,
                                     .git_ca_pem = c->git_ca_pem};

    if (c->nallow == 0)
        return dp_err_setc(err, DP_EINVAL, "no_agent_allow",
                           "cannot tell which address new agents should admit; start the "
                           "controller with --agent-allow");
    return cloudinit_provision_render(out, &in, err);
}

/* --git-ca-file, read once: it goes into every new server's user-data. */
static int read_git_ca(struct ctl *c, struct dp_logctx *lc)
{
    FILE *f;
    long n = 0;
    bool ok;

    if (!c->conf.git_ca_file[0])
        return 0;
    f = fopen(c->conf.git_ca_file, "re");
    ok = f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n <= 32768 &&
         fseek(f, 0, SEEK_SET) == 0 && (c->git_ca_pem = calloc(1, (size_t)n + 1)) &&
         fread(c->git_ca_pem, 1, (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    if (!ok)
        dp_log(DP_LOG_ERROR, lc, "cannot read --git-ca-file %s (PEM, at most 32 KiB)",
               c->conf.git_ca_file);
    return ok ? 0 : -1;
}

/* admin on a new database, with CONTROLLER_ADMIN_PASSWORD or a generated password shown once. */
static int bootstrap_admin(struct ctl *c, struct dp_logctx *lc)
{
    const char *pw = getenv("CONTROLLER_ADMIN_PASSWORD");
    char gen[33];
    long long users = 0;
    struct dp_user u;
    struct dp_err err = {0};

    if (dp_store_user_count(c->store, &users, &err) || users > 0)
        return err.rc ? -1 : 0;
    if (!pw || !*pw) {
        dp_do_random_hex(gen, 12);
        pw = gen;
    }
    if (dp_store_user_create(c->store, "admin", pw, &u, &err)) {
        dp_log(DP_LOG_ERROR, lc, "cannot create admin: %s", err.msg);
        return -1;
    }
    if (pw == gen) /* shown once, on the terminal only, never in the log */
        printf("controller: created user 'admin' with password %s (shown only now)\n", gen);
    else
        printf("controller: created user 'admin' with the password from "
               "CONTROLLER_ADMIN_PASSWORD\n");
    fflush(stdout);
    OPENSSL_cleanse(gen, sizeof(gen));
    return 0;
}

/* The token: DO_TOKEN, else the stored setting. Without one, no cloud (but deploys to known
 * servers still work). */
static int connect_cloud(struct ctl *c, struct dp_logctx *lc)
{
    const char *env = getenv("DO_TOKEN");
    char *stored = NULL;
    struct dp_err err = {0};

    if (!env || !*env)
        dp_store_setting_get(c->store, "do_token", &stored, NULL);
    c->do_token = strdup(env && *env ? env : stored ? stored : "");
    if (stored) {
        OPENSSL_cleanse(stored, strlen(stored));
        free(stored);
    }
    if (!c->do_token[0]) {
        dp_log(DP_LOG_WARN, lc,
               "no DigitalOcean token (DO_TOKEN or Settings): new servers cannot "
               "be made");
        return 0;
    }
    if (dp_do_new(&c->cloud, getenv("DO_API_URL"), c->do_token, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return -1;
    }
    dp_log(DP_LOG_INFO, lc, "DigitalOcean API at %s", dp_do_base_url(c->cloud));
    return 0;
}

/* What new agents admit: --agent-allow, else loopback for a local simulator, else the address
 * of --public-url's host. */
static void agent_allow(struct ctl *c, struct dp_logctx *lc)
{
    char host[256];
    const char *h, *api = getenv("DO_API_URL");
    struct addrinfo hints = {.ai_family = AF_INET}, *res = NULL;
    static char resolved[INET_ADDRSTRLEN];

    for (int i = 0; i < c->conf.nagent_allow; i++)
        c->allow[c->nallow++] = c->conf.agent_allow[i];
    if (c->nallow)
        return;
    if (api && (strstr(api, "://127.") || strstr(api, "://localhost"))) {
        c->allow[c->nallow++] = "127.0.0.0/8";
        return;
    }
    h = strstr(c->conf.public_url, "://") + 3;
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, ":/"), h);
    if (getaddrinfo(host, NULL, &hints, &res) == 0 && res) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, resolved,
                  sizeof(resolved));
        c->allow[c->nallow++] = resolved;
    }
    if (res)
        freeaddrinfo(res);
    if (!c->nallow)
        dp_log(DP_LOG_WARN, lc,
               "cannot tell which address agents should admit; set "
               "--agent-allow (new servers cannot be made until then)");
}

/* Our spool folder, locked for our lifetime; code a crashed run left there goes now. */
static int claim_spool(struct ctl *c, struct dp_logctx *lc)
{
    struct dp_err err = {0};
    int removed = 0;

    if (dp_spool_claim(c->conf.spool_dir, &c->spool_lock, &removed, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return -1;
    }
    if (removed)
        dp_log(DP_LOG_INFO, lc, "removed %d upload(s) an earlier run left in %s", removed,
               c->conf.spool_dir);
    return 0;
}

/* Bakes run in threads of their own and log through the process's context. */
static int start_bakes(struct ctl *c, const struct dp_logctx *lc)
{
    struct dp_snapshot_jobs_conf bc = {.render = cloudinit_render_snapshot_doc,
                                       .render_ud = c,
                                       .log = lc,
                                       .stopping = &c->stopping};
    struct dp_err err = {0};

    if (dp_snapshot_jobs_new(&c->bakes, &bc, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return -1;
    }
    return 0;
}

static int ctl_prepare(struct ctl *c, struct dp_logctx *lc)
{
    struct dp_err err = {0};
    long long interrupted = 0;
    char dbdir[CTL_STR_MAX];

    snprintf(dbdir, sizeof(dbdir), "%s", c->conf.db);
    if (mkdir(dirname(dbdir), 0700) != 0 && errno != EEXIST)
        dp_log(DP_LOG_WARN, lc, "cannot make the database folder: %s", strerror(errno));
    if (dp_store_open(&c->store, c->conf.db, &err) ||
        dp_store_deploy_interrupt_all(c->store, &interrupted, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return -1;
    }
    if (interrupted)
        dp_log(DP_LOG_WARN, lc,
               "%lld deployment(s) were running when the controller stopped; "
               "marked interrupted",
               interrupted);
    if (claim_spool(c, lc) || bootstrap_admin(c, lc) || connect_cloud(c, lc) || read_git_ca(c, lc))
        return -1;
    agent_allow(c, lc);
    if (dp_events_new(&c->events, c->store, &err) ||
        dp_authgate_new(&c->login_gate, 10, 60, 60, 1024)) {
        dp_log(DP_LOG_ERROR, lc, "out of memory");
        return -1;
    }
    if (dp_memo_new(&c->listing, DP_FLEET_LISTING_TTL_MS)) {
        dp_log(DP_LOG_ERROR, lc, "out of memory");
        return -1;
    }
    if (start_bakes(c, lc))
        return -1;
    c->env.fleet =
        (struct dp_fleet){c->store, c->cloud, c->do_token, render_user_data, c, c->listing};
    c->env.events = c->events;
    c->env.parallel = c->conf.deploy_parallel;
    c->env.agent_stall_ms = (long)c->conf.agent_stall_s * 1000;
    c->bases = (struct dp_dockerfile_bases)DP_DOCKERFILE_BASES_DEFAULT;
    if (c->conf.base_python[0])
        c->bases.python = c->conf.base_python;
    if (c->conf.base_node[0])
        c->bases.node = c->conf.base_node;
    if (c->conf.base_go_build[0])
        c->bases.go_build = c->conf.base_go_build;
    if (c->conf.base_go_run[0])
        c->bases.go_run = c->conf.base_go_run;
    if (c->conf.base_static[0])
        c->bases.static_site = c->conf.base_static;
    dp_logctx_init(&c->env.log, "ctl");
    return dp_deploys_new(&c->deploys, &c->env, &err) ? -1 : 0;
}

static int ctl_serve(struct ctl *c, struct dp_logctx *lc)
{
    struct dp_httpd_opts o = {
        .listen = c->conf.listen, .threads = c->conf.threads, .request_timeout_ms = 60000};
    struct dp_err err = {0};
    sigset_t sigs;
    int sig = 0;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before civetweb: workers inherit it */
    if (dp_httpd_start(&c->mg, &o, ctl_dispatch, c, &err)) {
        dp_log(DP_LOG_ERROR, lc, "%s", err.msg);
        return 1;
    }
    dp_log(DP_LOG_INFO, lc, "controller %s serving on http://%s (public %s) db=%s static=%s",
           DP_VERSION, o.listen, c->conf.public_url, c->conf.db, c->conf.static_dir);
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        ;
    dp_log(DP_LOG_INFO, lc, "signal %d: stopping", sig);
    atomic_store(&c->stopping, true);
    dp_events_shutdown(c->events); /* live viewers return */
    dp_snapshot_jobs_shutdown(c->bakes);
    dp_deploys_free(c->deploys, 20000); /* running deploys are canceled and end */
    c->deploys = NULL;
    dp_httpd_stop(c->mg, c->conf.listen);
    dp_snapshot_jobs_free(c->bakes); /* a running bake was canceled: it deletes its droplet */
    c->bakes = NULL;
    dp_log(DP_LOG_INFO, lc, "stopped");
    return 0;
}

static void ctl_free(struct ctl *c)
{
    dp_deploys_free(c->deploys, 0);
    dp_snapshot_jobs_free(c->bakes);
    dp_events_free(c->events);
    dp_authgate_free(c->login_gate);
    dp_do_free(c->cloud);
    dp_memo_free(c->listing);
    dp_store_close(c->store);
    if (c->spool_lock > 0)
        close(c->spool_lock);
    free(c->git_ca_pem);
    if (c->do_token) {
        OPENSSL_cleanse(c->do_token, strlen(c->do_token));
        free(c->do_token);
    }
}

int main(int argc, char **argv)
{
    static struct ctl c; /* big; zeroed; owned by main, passed by pointer */
    struct dp_logctx lc;
    struct dp_err err = {0};
    int rc;

    setlocale(LC_ALL, "C.UTF-8"); /* libarchive converts UTF-8 zip names through the locale */
    dp_logctx_init(&lc, "ctl");
    switch (ctl_conf_parse(&c.conf, argc, argv, &err)) {
    case CTL_EXIT_USAGE:
        fprintf(stderr, "controller: %s\n", err.msg);
        return 2;
    case CTL_EXIT_OK:
        if (c.conf.help)
            ctl_conf_usage(argv[0]);
        else
            printf("controller %s\n", DP_VERSION);
        return 0;
    case CTL_RUN:
        break;
    }
    dp_log_set_level(c.conf.log_level);
    if (c.conf.check) {
        printf("configuration ok\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(0);
    rc = ctl_prepare(&c, &lc) ? 1 : ctl_serve(&c, &lc);
    ctl_free(&c);
    curl_global_cleanup();
    return rc;
}
