#include "dosim_ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Droplet addresses come from 127.64.0.0/10, away from 127.0.0.x where local services live. */
#define POOL_BASE  0x7f400000u
#define POOL_SIZE  0x00400000u
#define TRIES      4096
#define LISTEN_MAX 4096

struct listeners {
    uint32_t addr[LISTEN_MAX]; /* host order */
    unsigned port[LISTEN_MAX];
    size_t n;
    bool wildcard_agent_port; /* something listens on every address at the agent port */
};

/* One /proc/net/tcp or tcp6 line: "sl local rem st ...", local as hex "ADDR:PORT". */
static void scan_line(struct listeners *l, const char *line, bool v6)
{
    char local[64], st[8];
    unsigned port;
    char *colon;

    if (sscanf(line, "%*s %63s %*s %7s", local, st) != 2 || strcmp(st, "0A") != 0)
        return; /* 0A: LISTEN */
    colon = strchr(local, ':');
    if (!colon || sscanf(colon + 1, "%x", &port) != 1)
        return;
    *colon = '\0';
    if (v6) {
        if (strspn(local, "0") == strlen(local) && port == DOSIM_AGENT_PORT)
            l->wildcard_agent_port = true;
        return;
    }
    {
        unsigned long raw = strtoul(local, NULL, 16);
        uint32_t host = ntohl((uint32_t)raw); /* the kernel prints network order as a u32 */

        if (host == 0 && port == DOSIM_AGENT_PORT)
            l->wildcard_agent_port = true;
        else if (l->n < LISTEN_MAX) {
            l->addr[l->n] = host;
            l->port[l->n++] = port;
        }
    }
}

static void scan_file(struct listeners *l, const char *path, bool v6)
{
    char line[512];
    FILE *f = fopen(path, "re");

    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        scan_line(l, line, v6);
    fclose(f);
}

/* Any listener on host, or only one on the agent port (an address coming back to its droplet,
 * whose containers may still publish ports on it). */
static bool listened_on(const struct listeners *l, uint32_t host, bool agent_port_only)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->addr[i] == host && (!agent_port_only || l->port[i] == DOSIM_AGENT_PORT))
            return true;
    }
    return false;
}

/* Locks lock_dir/addr; true when ours (the file is still the one at that path). */
static bool lock_addr(struct dosim_ip *out, const char *lock_dir, const char *addr)
{
    struct stat a, b;
    char pid[24];
    int fd;

    snprintf(out->lock_path, sizeof(out->lock_path), "%s/%s", lock_dir, addr);
    fd = open(out->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &a) != 0 || stat(out->lock_path, &b) != 0 ||
        a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        close(fd); /* held elsewhere, or removed by its holder after we opened it */
        return false;
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && write(fd, pid, strlen(pid)) < 0)
        (void)0; /* the pid is only a hint for people */
    out->fd = fd;
    snprintf(out->addr, sizeof(out->addr), "%s", addr);
    return true;
}

static bool try_addr(struct dosim_ip *out, const struct listeners *l, const char *lock_dir,
                     uint32_t host, bool returning)
{
    struct in_addr in = {.s_addr = htonl(host)};
    char text[INET_ADDRSTRLEN];
    uint32_t last = host & 0xffu;

    if ((host >> 24) != 127 || host == 0x7f000001u || last == 0 || last == 255)
        return false;
    if (listened_on(l, host, returning) || !inet_ntop(AF_INET, &in, text, sizeof(text)))
        return false;
    return lock_addr(out, lock_dir, text);
}

static dp_rc pick(struct dosim_ip *out, const struct listeners *l, const char *lock_dir,
                  const char *prefer, struct dp_err *err)
{
    struct in_addr want;
    uint32_t start = 0;

    if (l->wildcard_agent_port)
        return dp_err_set(err, DP_EUNAVAIL,
                          "a process listens on port %d of every address; agents cannot bind",
                          DOSIM_AGENT_PORT);
    if (prefer && inet_pton(AF_INET, prefer, &want) == 1 &&
        try_addr(out, l, lock_dir, ntohl(want.s_addr), true))
        return DP_OK;
    if (RAND_bytes((unsigned char *)&start, sizeof(start)) != 1)
        start = (uint32_t)getpid() * 2654435761u;
    for (uint32_t i = 0; i < TRIES; i++) {
        if (try_addr(out, l, lock_dir, POOL_BASE + (start + i) % POOL_SIZE, false))
            return DP_OK;
    }
    return dp_err_set(err, DP_EUNAVAIL, "no free loopback address after %d tries", TRIES);
}

dp_rc dosim_ip_acquire(struct dosim_ip *out, const char *lock_dir, const char *prefer,
                       struct dp_err *err)
{
    struct listeners *l;
    dp_rc rc;

    *out = (struct dosim_ip)DOSIM_IP_INIT;
    if (mkdir(lock_dir, 01777) == 0)
        chmod(lock_dir, 01777); /* shared by every user's simulators; umask aside */
    else if (errno != EEXIST)
        return dp_err_set(err, DP_EIO, "cannot create %s: %s", lock_dir, strerror(errno));
    l = calloc(1, sizeof(*l));
    if (!l)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    scan_file(l, "/proc/net/tcp", false);
    scan_file(l, "/proc/net/tcp6", true);
    rc = pick(out, l, lock_dir, prefer, err);
    free(l);
    return rc;
}

void dosim_ip_release(struct dosim_ip *ip)
{
    if (ip->fd >= 0) {
        unlink(ip->lock_path); /* while still locked: a waiter then sees a new file */
        close(ip->fd);
    }
    *ip = (struct dosim_ip)DOSIM_IP_INIT;
}
