/* Droplet lifecycle work: boot with user-data, power changes, snapshots, transfers, and the
 * agent process each droplet may run. Jobs hold the droplet's work_mu (its root and agent
 * change only under it) and take the state mutex only to read or publish state. */
#include "dosim_droplet.h"

#include "dosim_agent.h"
#include "dosim_model.h"
#include "dosim_tree.h"
#include "dosim_userdata.h"

#include "dp_clock.h"
#include "dp_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STOP_POLL_MS 20

void dosim_droplet_log_path(char *out, size_t size, const struct dosim_droplet *d)
{
    snprintf(out, size, "%s/cloud-init-output.log", d->dir);
}

void dosim_droplet_agent_log_path(char *out, size_t size, const struct dosim_droplet *d)
{
    snprintf(out, size, "%s/agent.log", d->dir);
}

static FILE *open_log(const struct dosim_droplet *d)
{
    char path[DOSIM_FILE_MAX];
    FILE *f;

    dosim_droplet_log_path(path, sizeof(path), d);
    f = fopen(path, "ae");
    return f ? f : fopen("/dev/null", "we");
}

static void log_line(FILE *log, const char *what)
{
    char now[DOSIM_TIME_MAX];

    dp_wall_rfc3339(now, sizeof(now));
    fprintf(log, "dosim: %s %s\n", now, what);
    fflush(log);
}

/* Records how an agent ended; under mu. */
static void agent_reaped(struct dosim_droplet *d, int status)
{
    d->agent_pid = 0;
    d->agent_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void dosim_agents_reap(struct dosim *sim)
{
    for (size_t i = 0; i < sim->st.droplets.n; i++) {
        struct dosim_droplet *d = sim->st.droplets.v[i];
        int status;

        if (d->agent_pid > 0 && waitpid(d->agent_pid, &status, WNOHANG) == d->agent_pid) {
            dp_log(DP_LOG_WARN, &sim->log, "droplet %lld: agent pid %ld exited by itself", d->id,
                   (long)d->agent_pid);
            agent_reaped(d, status);
        }
    }
}

/* SIGTERM, then SIGKILL after DOSIM_AGENT_STOP_MS; work_mu held. */
static void agent_stop(struct dosim *sim, struct dosim_droplet *d, FILE *log)
{
    int64_t deadline = dp_mono_ms() + DOSIM_AGENT_STOP_MS;
    bool killed = false, done = false;
    pid_t pid;

    pthread_mutex_lock(&sim->mu);
    pid = d->agent_pid;
    if (pid > 0)
        kill(pid, SIGTERM);
    pthread_mutex_unlock(&sim->mu);
    while (pid > 0 && !done) {
        int status;

        pthread_mutex_lock(&sim->mu);
        if (d->agent_pid != pid) {
            done = true; /* reaped by a worker meanwhile */
        } else if (waitpid(pid, &status, WNOHANG) == pid) {
            agent_reaped(d, status);
            done = true;
        } else if (!killed && dp_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            killed = true;
        }
        pthread_mutex_unlock(&sim->mu);
        if (!done)
            dp_sleep_ms(STOP_POLL_MS);
    }
    if (pid > 0)
        fprintf(log, "dosim: node-agent (pid %ld) stopped%s, exit status %d\n", (long)pid,
                killed ? " with SIGKILL" : "", d->agent_exit);
    fflush(log);
}

struct unit_ctx {
    struct dosim *sim;
    struct dosim_droplet *d;
};

static int agent_start(struct dosim *sim, struct dosim_droplet *d, FILE *log)
{
    char root[DOSIM_FILE_MAX], bin[DOSIM_FILE_MAX + DOSIM_PATH_MAX], alog[DOSIM_FILE_MAX];
    struct dosim_agent_spec s = {.root = root,
                                 .bin = bin,
                                 .ip = d->ip.addr,
                                 .ns = d->ns,
                                 .log_path = alog,
                                 .docker_socket = sim->conf.docker_socket};
    struct dp_err err = {0};
    pid_t pid = 0;

    snprintf(root, sizeof(root), "%s/root", d->dir);
    if (sim->conf.agent[0])
        snprintf(bin, sizeof(bin), "%s", sim->conf.agent);
    else
        snprintf(bin, sizeof(bin), "%s/" DOSIM_AGENT_BIN, root);
    dosim_droplet_agent_log_path(alog, sizeof(alog), d);
    if (dosim_agent_spawn(&pid, &s, &err)) {
        fprintf(log, "node-agent.service: failed to start: %s\n", err.msg);
        return 1;
    }
    pthread_mutex_lock(&sim->mu);
    d->agent_pid = pid;
    d->agent_starts++;
    d->agent_wanted = true;
    dosim_changed(sim);
    pthread_mutex_unlock(&sim->mu);
    fprintf(log, "dosim: node-agent started (pid %ld) on %s:%d\n", (long)pid, d->ip.addr,
            DOSIM_AGENT_PORT);
    return 0;
}

/* systemctl start: what the unit's conditions allow. */
static int unit_start(struct dosim *sim, struct dosim_droplet *d, int root_fd, FILE *log)
{
    struct dosim_agent_probe p;

    if (d->agent_pid > 0)
        return 0;
    dosim_agent_probe(&p, root_fd, sim->conf.agent);
    if (!p.unit) {
        fprintf(log, "Failed to start node-agent.service: Unit node-agent.service not found.\n");
        return 5;
    }
    if (!p.key && !p.bake_key) {
        fprintf(log, "node-agent.service: conditions ConditionFileNotEmpty=|/" DOSIM_AGENT_KEY
                     " and ConditionFileNotEmpty=|/" DOSIM_AGENT_BAKEKEY " failed; not started\n");
        return 0;
    }
    if (!p.binary) {
        fprintf(log, "node-agent.service: Failed to execute the agent: No such file\n");
        return 0; /* Type=simple: systemctl itself succeeds */
    }
    return agent_start(sim, d, log);
}

static int unit_verb(struct dosim *sim, struct dosim_droplet *d, int root_fd, const char *verb,
                     FILE *log)
{
    bool running = d->agent_pid > 0;
    struct dosim_agent_probe p;

    if (strcmp(verb, "boot") == 0) {
        dosim_agent_probe(&p, root_fd, sim->conf.agent);
        return p.unit && p.enabled ? unit_start(sim, d, root_fd, log) : 0;
    }
    if (strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0 ||
        (strcmp(verb, "try-restart") == 0 && running)) {
        agent_stop(sim, d, log);
        pthread_mutex_lock(&sim->mu);
        d->agent_wanted = false;
        dosim_changed(sim);
        pthread_mutex_unlock(&sim->mu);
        return verb[0] == 's' ? 0 : unit_start(sim, d, root_fd, log);
    }
    if ((strcmp(verb, "reload") == 0 || strcmp(verb, "reload-or-restart") == 0) && running)
        return kill(d->agent_pid, SIGHUP) == 0 ? 0 : 1;
    if (strcmp(verb, "reload") == 0) {
        fprintf(log, "node-agent.service is not active, cannot reload.\n");
        return 1;
    }
    if (strcmp(verb, "try-restart") == 0)
        return 0;
    return unit_start(sim, d, root_fd, log); /* start, reload-or-restart */
}

static int unit_cb(void *ud, const char *verb, FILE *log)
{
    struct unit_ctx *u = ud;
    char root[DOSIM_FILE_MAX];
    int fd, rc;

    snprintf(root, sizeof(root), "%s/root", u->d->dir);
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(log, "dosim: the droplet's root is missing\n");
        return 1;
    }
    rc = unit_verb(u->sim, u->d, fd, verb, log);
    close(fd);
    fflush(log);
    return rc;
}

void dosim_job_finish(struct dosim *sim, struct dosim_job *job, bool ok)
{
    dosim_action_finish(job->a, ok && !job->errored);
    dp_log(DP_LOG_INFO, &sim->log, "action %lld %s on %s %lld %s", job->a->id, job->a->type,
           job->a->resource_type, job->a->resource_id, job->a->status);
    if (job->d && job->d->pending_action == job->a->id) {
        job->d->pending_action = 0;
        job->d->locked = false;
    }
    dosim_changed(sim);
}

/* Drops the job's references (without mu). */
static void job_release(struct dosim *sim, struct dosim_job *job)
{
    bool last;

    pthread_mutex_lock(&sim->mu);
    dosim_droplet_unref(job->d);
    last = dosim_image_unref(job->im);
    pthread_mutex_unlock(&sim->mu);
    if (last)
        dosim_image_discard(job->im);
}

/* The root a new droplet starts from: a copy of its snapshot's, or an empty one. */
static void make_root(struct dosim_droplet *d, const struct dosim_image *im, FILE *log)
{
    char root[DOSIM_FILE_MAX], src[DOSIM_FILE_MAX];
    struct dp_err err = {0};
    unsigned long long bytes = 0;

    snprintf(root, sizeof(root), "%s/root", d->dir);
    if (access(root, F_OK) == 0)
        return; /* restored after a restart */
    if (im && im->dir[0]) {
        snprintf(src, sizeof(src), "%s/root", im->dir);
        if (dosim_tree_copy(src, root, &bytes, &err) == DP_OK) {
            fprintf(log, "dosim: root copied from snapshot %lld (%llu bytes)\n", im->id, bytes);
            return;
        }
        fprintf(log, "dosim: cannot copy snapshot %lld: %s; starting empty\n", im->id, err.msg);
    }
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        fprintf(log, "dosim: cannot make the root: %s\n", strerror(errno));
}

/* After the user-data: when no agent runs, one line saying why, so a bake that waits for an
 * agent in vain can be told from the droplet's log. */
static void explain_no_agent(struct dosim *sim, struct dosim_droplet *d, int root_fd, FILE *log)
{
    struct dosim_agent_probe p;
    const char *why = NULL;

    if (d->agent_pid > 0)
        return;
    dosim_agent_probe(&p, root_fd, sim->conf.agent);
    if (!p.unit)
        why = "no node-agent enabled: the user-data did not install node-agent.service";
    else if (!p.enabled)
        why = "no node-agent enabled: node-agent.service is installed but not enabled";
    else if (!p.key && !p.bake_key)
        why = "node-agent not started: neither /" DOSIM_AGENT_KEY " nor /" DOSIM_AGENT_BAKEKEY
              " was written";
    else if (!p.binary)
        why = "node-agent not started: the agent binary is missing";
    else
        why = "node-agent enabled but not running (not started by the user-data, or it exited)";
    fprintf(log, "dosim: %s; no agent answers on %s:%d\n", why, d->ip.addr, DOSIM_AGENT_PORT);
}

/* What cloud-init keeps for an instance below /var/lib/cloud, as a guest would find it: the
 * instance folder with its user-data (0600), the "instance" link, data/instance-id and sem/.
 * A bake's finalize removes these; a snapshot otherwise carries them. */
static void write_instance_state(struct dosim_droplet *d, int root_fd, FILE *log)
{
    char rel[DOSIM_PATH_MAX], id[32];
    const char *leaf;
    struct dp_err err = {0};
    const char *ud = d->user_data ? d->user_data : "";
    int dir;

    snprintf(id, sizeof(id), "%lld", d->id);
    snprintf(rel, sizeof(rel), DOSIM_CLOUD_DIR "/instances/%s/user-data.txt", id);
    if (dosim_tree_write(root_fd, rel, ud, strlen(ud), 0600, false, &err) ||
        dosim_tree_write(root_fd, DOSIM_CLOUD_DIR "/data/instance-id", id, strlen(id), 0644, false,
                         &err) ||
        dosim_tree_mkdirs(root_fd, DOSIM_CLOUD_DIR "/sem", &err)) {
        fprintf(log, "dosim: cloud-init state not written: %s\n", err.msg);
        return;
    }
    snprintf(rel, sizeof(rel), "/" DOSIM_CLOUD_DIR "/instances/%s", id);
    dir = dp_stage_open_parent(root_fd, DOSIM_CLOUD_DIR "/instance", false, &leaf, NULL);
    if (dir >= 0) {
        (void)unlinkat(dir, leaf, 0);
        if (symlinkat(rel, dir, leaf) != 0)
            fprintf(log, "dosim: cloud-init instance link not made: %s\n", strerror(errno));
        close(dir);
    }
}

static void run_user_data(struct dosim *sim, struct dosim_droplet *d, FILE *log)
{
    char root[DOSIM_FILE_MAX];
    struct unit_ctx u = {sim, d};
    struct dosim_ci ci = {.droplet_dir = d->dir, .log = log, .unit = unit_cb, .ud = &u};

    snprintf(root, sizeof(root), "%s/root", d->dir);
    ci.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ci.root_fd < 0) {
        log_line(log, "the root is missing; user-data not run");
        return;
    }
    log_line(log, "cloud-init: running user-data (first boot of this instance)");
    write_instance_state(d, ci.root_fd, log);
    dosim_userdata_run(&ci, d->user_data);
    explain_no_agent(sim, d, ci.root_fd, log);
    close(ci.root_fd);
    fprintf(log, "dosim: cloud-init finished: %d runcmd entries, %d skipped, %d failed\n",
            ci.entries, ci.skipped, ci.failed);
    fflush(log);
    pthread_mutex_lock(&sim->mu);
    d->ci = DOSIM_CI_DONE;
    d->ci_skipped = ci.skipped;
    d->ci_failed = ci.failed;
    dosim_changed(sim);
    pthread_mutex_unlock(&sim->mu);
}

static void job_create(struct dosim *sim, struct dosim_job *job, FILE *log)
{
    struct dosim_droplet *d = job->d;
    bool run = !job->errored;

    if (run)
        make_root(d, job->im, log);
    pthread_mutex_lock(&sim->mu);
    if (run) {
        snprintf(d->status, sizeof(d->status), "active");
        d->ci = DOSIM_CI_RUNNING;
    }
    dosim_job_finish(sim, job, true);
    pthread_mutex_unlock(&sim->mu);
    if (!run) {
        log_line(log, "create action errored (injected fault); the droplet stays new");
        return;
    }
    log_line(log, "droplet is active");
    run_user_data(sim, d, log);
}

static void job_power(struct dosim *sim, struct dosim_job *job, FILE *log)
{
    struct dosim_droplet *d = job->d;
    const char *t = job->a->type;
    bool down = strcmp(t, "power_on") != 0;
    bool up = strcmp(t, "shutdown") != 0 && strcmp(t, "power_off") != 0;
    struct unit_ctx u = {sim, d};

    if (job->errored) {
        pthread_mutex_lock(&sim->mu);
        dosim_job_finish(sim, job, false);
        pthread_mutex_unlock(&sim->mu);
        return;
    }
    log_line(log, t);
    if (down)
        agent_stop(sim, d, log);
    pthread_mutex_lock(&sim->mu);
    snprintf(d->status, sizeof(d->status), "%s", up ? "active" : "off");
    if (!up)
        dosim_job_finish(sim, job, true);
    pthread_mutex_unlock(&sim->mu);
    if (!up)
        return;
    unit_cb(&u, "boot", log);
    pthread_mutex_lock(&sim->mu);
    dosim_job_finish(sim, job, true);
    pthread_mutex_unlock(&sim->mu);
}

static void job_finish_now(struct dosim *sim, struct dosim_job *job, bool ok)
{
    pthread_mutex_lock(&sim->mu);
    dosim_job_finish(sim, job, ok);
    pthread_mutex_unlock(&sim->mu);
}

/* A droplet's action; work_mu held. */
static void droplet_job(struct dosim *sim, struct dosim_job *job, FILE *log)
{
    const char *t = job->a->type;

    if (job->d->deleted)
        job_finish_now(sim, job, false); /* deleted meanwhile */
    else if (strcmp(t, "create") == 0)
        job_create(sim, job, log);
    else if (strcmp(t, "snapshot") == 0)
        dosim_job_snapshot(sim, job, log);
    else if (strcmp(t, "rename") == 0)
        job_finish_now(sim, job, true); /* renamed when asked */
    else
        job_power(sim, job, log);
}

void dosim_job_run(struct dosim *sim, struct dosim_job *job)
{
    FILE *log;

    if (!job->d) { /* an image's action, or a droplet's that is gone */
        if (strcmp(job->a->type, "transfer") == 0)
            dosim_job_transfer(sim, job);
        else
            job_finish_now(sim, job, false);
        job_release(sim, job);
        return;
    }
    pthread_mutex_lock(&job->d->work_mu);
    log = open_log(job->d);
    droplet_job(sim, job, log);
    if (log)
        fclose(log);
    pthread_mutex_unlock(&job->d->work_mu);
    job_release(sim, job);
}

void dosim_droplet_detach(struct dosim *sim, struct dosim_droplet *d)
{
    dosim_vec_remove(&sim->st.droplets, d);
    d->deleted = true;
    dosim_changed(sim);
}

void dosim_droplet_destroy(struct dosim *sim, struct dosim_droplet *d)
{
    char root[DOSIM_FILE_MAX];
    struct dp_err err = {0};
    int removed = 0;
    FILE *log;

    pthread_mutex_lock(&d->work_mu); /* a job under way on d finishes first */
    log = open_log(d);
    log_line(log, "destroying the droplet");
    agent_stop(sim, d, log);
    if (dosim_agent_clean_docker(&sim->docker, d->ns, &removed, &err))
        dp_log(DP_LOG_WARN, &sim->log, "droplet %lld: containers of %s not all removed: %s", d->id,
               d->ns, err.msg);
    fprintf(log, "dosim: removed %d containers of namespace %s\n", removed, d->ns);
    snprintf(root, sizeof(root), "%s/root", d->dir);
    dp_err_clear(&err);
    if (dosim_tree_remove(root, &err))
        dp_log(DP_LOG_WARN, &sim->log, "droplet %lld: root not removed: %s", d->id, err.msg);
    dp_log(DP_LOG_INFO, &sim->log, "droplet %lld destroyed ip=%s containers_removed=%d", d->id,
           d->ip.addr, removed);
    dosim_ip_release(&d->ip);
    log_line(log, "destroyed");
    fclose(log);
    pthread_mutex_unlock(&d->work_mu);
    pthread_mutex_lock(&sim->mu);
    dosim_droplet_unref(d);
    pthread_mutex_unlock(&sim->mu);
}

void dosim_agents_restore(struct dosim *sim)
{
    for (size_t i = 0; i < sim->st.droplets.n; i++) {
        struct dosim_droplet *d = sim->st.droplets.v[i];
        struct unit_ctx u = {sim, d};
        FILE *log;

        if (!d->agent_wanted || strcmp(d->status, "active") != 0)
            continue;
        log = open_log(d);
        log_line(log, "dosim restarted: starting the agent again");
        unit_cb(&u, "start", log);
        fclose(log);
    }
}

void dosim_agents_stop_all(struct dosim *sim)
{
    for (size_t i = 0; i < sim->st.droplets.n; i++) {
        struct dosim_droplet *d = sim->st.droplets.v[i];
        FILE *log;

        if (d->agent_pid <= 0)
            continue;
        log = open_log(d);
        log_line(log, "dosim is stopping");
        agent_stop(sim, d, log);
        fclose(log);
    }
}
