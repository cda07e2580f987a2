/* resolver_sandbox.h - the system's resolver on files a test controls.
 *
 * glibc reads /etc/hosts, /etc/nsswitch.conf and /etc/gai.conf at fixed
 * paths. A process that enters a sandbox (sandbox_enter()) gets a private
 * mount namespace in which those paths are files the test wrote (on a
 * tmpfs over /tmp, private too, so nothing is left behind), nsswitch.conf
 * saying "hosts: files" (no DNS query ever leaves), nscd's socket hidden;
 * optionally a network namespace with only lo (up), and a UTS namespace
 * with another host name. With a resolv.conf (and a network namespace, so
 * that its name server can only be one the test runs on loopback), DNS is
 * asked too: "hosts: files dns". It needs root and Linux namespaces;
 * without them sandbox_enter() says why and the caller skips.
 *
 * Meant for a child process: the sandbox cannot be left.
 */
#ifndef CASYNCIO_TESTS_RESOLVER_SANDBOX_H
#define CASYNCIO_TESTS_RESOLVER_SANDBOX_H

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sandbox_config {
    const char *hosts;    /* the text of /etc/hosts */
    size_t hosts_len;     /* its length (it may hold NUL bytes) */
    const char *gai_conf; /* the text of /etc/gai.conf; NULL: empty */
    const char *hostname; /* NULL: the machine's */
    bool netns;           /* a network namespace of lo alone */
    const char *resolv_conf; /* the text of /etc/resolv.conf; NULL: no DNS */
} sandbox_config;

static inline int sandbox__write(const char *path, const char *text, size_t len, char *why,
                                 size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd < 0 || done < len) {
        snprintf(why, size, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Writes `text` to /tmp/<name> and binds it over `target`. */
static inline int sandbox__replace(const char *target, const char *name, const char *text,
                                   size_t len, char *why, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/%s", name);
    if (sandbox__write(path, text, len, why, size) < 0)
        return -1;
    if (mount(path, target, NULL, MS_BIND, NULL) != 0) {
        snprintf(why, size, "cannot bind %s over %s: %s", path, target, strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether a mount of this namespace has peers (or /proc cannot tell). */
static inline bool sandbox__any_shared_mount(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return true;
    char line[4096];
    bool shared = false;
    while (!shared && fgets(line, sizeof line, f) != NULL)
        shared = strstr(line, " shared:") != NULL;
    fclose(f);
    return shared;
}

/* Enters the sandbox: 0, or -1 with the reason in `why`. */
static inline int sandbox_enter(const sandbox_config *c, char *why, size_t size)
{
    struct stat st;
    if (geteuid() != 0) {
        snprintf(why, size, "needs root (for mount namespaces)");
        return -1;
    }
    if (c->resolv_conf != NULL && !c->netns) {
        snprintf(why, size, "DNS only in a network namespace");
        return -1;
    }
    const char *needed[] = {"/etc/hosts", "/etc/nsswitch.conf", "/etc/resolv.conf"};
    for (size_t i = 0; i < (c->resolv_conf != NULL ? 3 : 2); i++) {
        if (stat(needed[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(why, size, "no %s to bind over", needed[i]);
            return -1;
        }
    }
    bool have_gai_conf = stat("/etc/gai.conf", &st) == 0 && S_ISREG(st.st_mode);
    if (c->gai_conf != NULL && c->gai_conf[0] != '\0' && !have_gai_conf) {
        snprintf(why, size, "no /etc/gai.conf to bind over");
        return -1;
    }
    int flags = CLONE_NEWNS | (c->netns ? CLONE_NEWNET : 0) | (c->hostname ? CLONE_NEWUTS : 0);
    if (unshare(flags) != 0) {
        snprintf(why, size, "unshare(): %s", strerror(errno));
        return -1;
    }
    /* Nothing mounted here may show outside. In a chroot "/" is no mount
     * point and cannot be made private: then no mount may propagate. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 &&
        (errno != EINVAL || sandbox__any_shared_mount())) {
        snprintf(why, size, "cannot make the mounts private: %s", strerror(errno));
        return -1;
    }
    if (mount("tmpfs", "/tmp", "tmpfs", 0, "size=64m") != 0) {
        snprintf(why, size, "cannot mount a tmpfs on /tmp: %s", strerror(errno));
        return -1;
    }
    const char *nsswitch = c->resolv_conf != NULL ? "hosts: files dns\n" : "hosts: files\n";
    if (sandbox__replace("/etc/hosts", "hosts", c->hosts, c->hosts_len, why, size) < 0 ||
        sandbox__replace("/etc/nsswitch.conf", "nsswitch.conf", nsswitch, strlen(nsswitch), why,
                         size) < 0 ||
        (c->resolv_conf != NULL &&
         sandbox__replace("/etc/resolv.conf", "resolv.conf", c->resolv_conf,
                          strlen(c->resolv_conf), why, size) < 0))
        return -1;
    if (have_gai_conf) {
        const char *text = c->gai_conf != NULL ? c->gai_conf : "";
        if (sandbox__replace("/etc/gai.conf", "gai.conf", text, strlen(text), why, size) < 0)
            return -1;
    }
    if (stat("/var/run/nscd", &st) == 0 && S_ISDIR(st.st_mode) &&
        mount("tmpfs", "/var/run/nscd", "tmpfs", 0, NULL) != 0) {
        snprintf(why, size, "cannot hide nscd: %s", strerror(errno));
        return -1;
    }
    if (c->netns) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
                  (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
        if (fd >= 0)
            close(fd);
        if (!up) {
            snprintf(why, size, "cannot bring lo up: %s", strerror(errno));
            return -1;
        }
    }
    if (c->hostname != NULL && sethostname(c->hostname, strlen(c->hostname)) != 0) {
        snprintf(why, size, "sethostname(): %s", strerror(errno));
        return -1;
    }
    return 0;
}

#endif /* CASYNCIO_TESTS_RESOLVER_SANDBOX_H */
