/* dosim: parse, prepare the state (restored or seeded), start workers, serve until SIGTERM,
 * then stop agents (persisting state) or remove everything (a temporary state dir). */
#include "dosim.h"

#include "dosim_droplet.h"
#include "dosim_persist.h"
#include "dosim_seed.h"
#include "dosim_tree.h"

#include "dp_httpd.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <locale.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DOSIM_PKG_ARCH
#define DOSIM_PKG_ARCH "amd64"
#endif

void dosim_changed(struct dosim *sim)
{
    struct dp_err err = {0};

    if (sim->persist && dosim_persist_save(sim, &err))
        dp_log(DP_LOG_WARN, &sim->log, "%s", err.msg);
}

static void default_package(struct dosim *sim)
{
    char self[DOSIM_PATH_MAX];
    ssize_t n;

    if (sim->conf.agent_package[0]) {
        snprintf(sim->agent_package, sizeof(sim->agent_package), "%s", sim->conf.agent_package);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(sim->agent_package, sizeof(sim->agent_package),
             "%s/../package/node-agent-%s-linux-%s.tar.gz", dirname(self), DP_VERSION,
             DOSIM_PKG_ARCH);
}

/* The state dir: the one given (kept), or a fresh temporary one (removed at exit). Locked, so
 * two simulators never share one. */
static dp_rc state_dir(struct dosim *sim, int *lock_fd, struct dp_err *err)
{
    char path[DOSIM_FILE_MAX];
    dp_rc rc;

    sim->persist = sim->conf.state_dir[0] != '\0';
    if (sim->persist) {
        snprintf(sim->state_dir, sizeof(sim->state_dir), "%s", sim->conf.state_dir);
    } else {
        snprintf(sim->state_dir, sizeof(sim->state_dir), "/tmp/dosim.XXXXXX");
        if (!mkdtemp(sim->state_dir))
            return dp_err_set(err, DP_EIO, "cannot make a temporary folder: %s", strerror(errno));
    }
    snprintf(path, sizeof(path), "%s/droplets", sim->state_dir);
    rc = dosim_mkdirs_abs(path, 0755, err);
    snprintf(path, sizeof(path), "%s/images", sim->state_dir);
    if (!rc)
        rc = dosim_mkdirs_abs(path, 0755, err);
    snprintf(path, sizeof(path), "%s/.lock", sim->state_dir);
    if (!rc && ((*lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
                flock(*lock_fd, LOCK_EX | LOCK_NB) != 0))
        rc = dp_err_set(err, DP_ECONFLICT, "%s is in use by another dosim", sim->state_dir);
    return rc;
}

static dp_rc prepare(struct dosim *sim, int *lock_fd, struct dp_err *err)
{
    unsigned char r[3] = {0};
    pthread_condattr_t ca;
    dp_rc rc;

    pthread_mutex_init(&sim->mu, NULL);
    pthread_mutex_init(&sim->record_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->wake, &ca);
    pthread_condattr_destroy(&ca);
    RAND_bytes(r, sizeof(r));
    snprintf(sim->sim_id, sizeof(sim->sim_id), "%02x%02x%02x", r[0], r[1], r[2]);
    sim->counters = json_object();
    dosim_faults_init(&sim->faults, &sim->conf);
    dosim_rl_init(&sim->rl, sim->conf.ratelimit_hour, sim->conf.ratelimit_minute,
                  sim->conf.keys_per_minute);
    dp_docker_init(&sim->docker, sim->conf.docker_socket);
    default_package(sim);
    if (dosim_state_init(&sim->st) || !sim->counters)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    if (sim->conf.record[0] && !(sim->record = fopen(sim->conf.record, "ae")))
        return dp_err_set(err, DP_EIO, "cannot open --record %s: %s", sim->conf.record,
                          strerror(errno));
    rc = state_dir(sim, lock_fd, err);
    if (!rc)
        rc = dosim_persist_load(sim, err);
    if (!rc)
        rc = dosim_seed(sim, err);
    if (!rc)
        dosim_changed(sim);
    return rc;
}

/* A temporary state dir goes with everything in it: agents, containers, roots, addresses. */
static void remove_everything(struct dosim *sim)
{
    while (sim->st.droplets.n > 0) {
        struct dosim_droplet *d = sim->st.droplets.v[sim->st.droplets.n - 1];

        dosim_droplet_detach(sim, d);
        dosim_droplet_destroy(sim, d);
    }
    dosim_tree_remove(sim->state_dir, NULL);
}

/* ready: the state dir is ours and its state loaded; otherwise state.json is left as it is
 * (another dosim's, or one that did not load). A temporary dir is always ours to remove. */
static void finish(struct dosim *sim, int lock_fd, bool ready)
{
    dosim_workers_stop(sim);
    if (ready) {
        pthread_mutex_lock(&sim->mu);
        dosim_changed(sim); /* which agents ran: they come back at the next start */
        pthread_mutex_unlock(&sim->mu);
    }
    if (sim->persist)
        dosim_agents_stop_all(sim);
    else if (sim->state_dir[0])
        remove_everything(sim);
    dosim_state_clear(&sim->st);
    free(sim->pending.v);
    json_decref(sim->counters);
    dosim_rl_clear(&sim->rl);
    dosim_faults_clear(&sim->faults);
    if (sim->record)
        fclose(sim->record);
    if (lock_fd >= 0)
        close(lock_fd);
}

static int serve(struct dosim *sim, const sigset_t *sigs)
{
    struct dp_httpd_opts o = {
        .listen = sim->conf.listen, .threads = sim->conf.threads, .request_timeout_ms = 60000};
    struct dp_err err = {0};
    int sig = 0;

    dosim_agents_restore(sim);
    if (dosim_workers_start(sim, &err) || dp_httpd_start(&sim->mg, &o, dosim_dispatch, sim, &err)) {
        dp_log(DP_LOG_ERROR, &sim->log, "%s", err.msg);
        return 1;
    }
    dp_log(DP_LOG_INFO, &sim->log, "serving on %s sim_id=%s state_dir=%s%s time_scale=%g",
           sim->conf.listen, sim->sim_id, sim->state_dir, sim->persist ? "" : " (temporary)",
           sim->conf.time_scale);
    while (sigwait(sigs, &sig) == 0 && sig == SIGHUP)
        ;
    dp_log(DP_LOG_INFO, &sim->log, "signal %d: stopping", sig);
    dp_httpd_stop(sim->mg, sim->conf.listen);
    return 0;
}

int main(int argc, char **argv)
{
    static struct dosim sim; /* big; zeroed; owned by main, passed by pointer */
    struct dp_err err = {0};
    sigset_t sigs;
    int rc, lock_fd = -1;
    bool ready;

    setlocale(LC_ALL, "C.UTF-8"); /* libarchive needs it for UTF-8 member names */
    dp_logctx_init(&sim.log, "dosim");
    switch (dosim_conf_parse(&sim.conf, argc, argv, &err)) {
    case DOSIM_EXIT_USAGE:
        fprintf(stderr, "dosim: %s\n", err.msg);
        return 2;
    case DOSIM_EXIT_OK:
        if (sim.conf.help)
            dosim_conf_usage(argv[0]);
        else
            printf("dosim %s\n", DP_VERSION);
        return 0;
    case DOSIM_RUN:
        break;
    }
    dp_log_set_level(sim.conf.log_level);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread: all inherit it */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(0);
    ready = prepare(&sim, &lock_fd, &err) == DP_OK;
    if (!ready)
        dp_log(DP_LOG_ERROR, &sim.log, "%s", err.msg);
    rc = ready ? serve(&sim, &sigs) : 1;
    finish(&sim, lock_fd, ready);
    curl_global_cleanup();
    return rc;
}
