/* The files a server may make xe read or write (xe-cli.md 5): the rule
 * that keeps a hostile or confused server away from any file the user did
 * not name, and the HttpGet / HttpPut transfers over a side connection, as
 * the upstream client does them: the request line and its headers, the
 * server's answer before any data (200 goes on, 302 follows its location),
 * then the data. Downloads create their file exclusively with mode 0600 and
 * never through a symbolic link; a download cut short is removed rather
 * than left looking complete. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xe.h"

#define MAX_HEAD (16 * 1024)
#define MAX_REDIRECTS 5
#define BLOCK (64 * 1024)

/* The canonical form of a path whose last component may not exist yet:
 * its directory resolved (symbolic links, "..") and the name appended.
 * false if the directory does not resolve. */
static bool canonical(const char *name, char out[PATH_MAX])
{
    char dbuf[PATH_MAX], bbuf[PATH_MAX], dir[PATH_MAX];
    const char *base;

    if (!*name || strlen(name) >= PATH_MAX)
        return false;
    if (realpath(name, out))
        return true;
    memcpy(dbuf, name, strlen(name) + 1);
    memcpy(bbuf, name, strlen(name) + 1);
    base = basename(bbuf);
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
        return false;
    if (!realpath(dirname(dbuf), dir))
        return false;
    return snprintf(out, PATH_MAX, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, base) < PATH_MAX;
}

bool xe_file_permitted(const struct xe_words *words, const char *name, bool for_write)
{
    char want[PATH_MAX], have[PATH_MAX], cwd[PATH_MAX];

    if (!canonical(name, want))
        return false;
    for (size_t i = 0; i < words->n; i++) {
        const char *eq = strchr(words->w[i], '=');
        if (eq && canonical(eq + 1, have) && strcmp(want, have) == 0)
            return true;
    }
    if (for_write && getcwd(have, sizeof(have)) && realpath(have, cwd)) {
        size_t n = strlen(cwd);
        const char *rest = want + n;
        if (strcmp(cwd, "/") == 0)
            rest = want;
        if (strncmp(want, cwd, n) == 0 && rest[0] == '/' && rest[1] && !strchr(rest + 1, '/'))
            return true;
    }
    return false;
}

/* A url the server gave: "/path" on the CLI connection's own server, or
 * http[s]://host[:port]/path on another. The host goes to hostbuf. */
static int parse_url(const struct xe_target *base, const char *url, struct xe_target *ret,
                     char *hostbuf, size_t hostlen, const char **ret_path)
{
    const char *p, *slash, *colon, *hend;
    bool tls;

    if (url[0] == '/') {
        *ret = *base;
        *ret_path = url;
        return 0;
    }
    if (strncmp(url, "https://", 8) == 0)
        tls = true, p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        tls = false, p = url + 7;
    else
        return -1;
    slash = strchr(p, '/');
    if (!slash)
        slash = p + strlen(p);
    hend = slash;
    if (*p == '[') { /* an IPv6 literal */
        const char *close = memchr(p, ']', (size_t)(slash - p));
        if (!close)
            return -1;
        colon = close[1] == ':' ? close + 1 : NULL;
        hend = close;
        p++;
    } else {
        colon = memchr(p, ':', (size_t)(slash - p));
        if (colon)
            hend = colon;
    }
    if (hend == p || (size_t)(hend - p) >= hostlen)
        return -1;
    memcpy(hostbuf, p, (size_t)(hend - p));
    hostbuf[hend - p] = '\0';
    *ret = (struct xe_target){.host = hostbuf, .tls = tls};
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != slash || port <= 0 || port > 65535)
            return -1;
        ret->port = (int)port;
    }
    *ret_path = *slash ? slash : "/";
    return 0;
}

/* Reads the response head (status line and headers) up to the blank
 * line; what came after it is left in head + *ret_len .. head + *ret_got.
 * Returns the status code, or -1. */
static int read_head(struct xe_conn *c, char *head, size_t *ret_len, size_t *ret_got)
{
    size_t got = 0;
    char *end;
    int code;

    for (;;) {
        ssize_t n;
        if (got == MAX_HEAD - 1)
            return -1;
        n = xe_conn_read_some(c, head + got, MAX_HEAD - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        head[got] = '\0';
        if ((end = strstr(head, "\r\n\r\n")))
            break;
    }
    if (sscanf(head, "HTTP/%*d.%*d %d", &code) != 1)
        return -1;
    *ret_len = (size_t)(end + 4 - head);
    *ret_got = got;
    return code;
}

/* The value of header name in head (up to the blank line), copied into
 * out; false if it is absent or too long. */
static bool header(const char *head, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && (size_t)(p - head) < len;
         p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            if (!e || (size_t)(e - v) >= outlen)
                return false;
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = '\0';
            return true;
        }
    }
    return false;
}

/* Sends a heartbeat when XE_HEARTBEAT seconds have passed since *last. */
static void beat(const struct xe_heartbeat *hb, time_t *last)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!*last)
        *last = now.tv_sec;
    else if (now.tv_sec - *last >= XE_HEARTBEAT) {
        *last = now.tv_sec;
        if (hb && hb->fn)
            hb->fn(hb->arg);
    }
}

static int write_all_fd(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Opens the connection for url and sends the request line; the answer's
 * head is read into head. Follows 302 redirects. Returns the status, or
 * -1 after printing why; on a status the connection stays open in c. */
static int request(const struct xe_target *base, const char *method, const char *url,
                   const char *extra, struct xe_conn *c, char *head, size_t *ret_len,
                   size_t *ret_got)
{
    char urlbuf[4096], host[256];
    snprintf(urlbuf, sizeof(urlbuf), "%s", url);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
        struct xe_target t;
        const char *path;
        char line[4200];
        int code, n;

        if (parse_url(base, urlbuf, &t, host, sizeof(host), &path) < 0) {
            fprintf(stderr, "Error: the server gave a URL xe cannot use: %s\n", urlbuf);
            return -1;
        }
        if (xe_conn_open(c, &t) < 0)
            return -1;
        n = snprintf(line, sizeof(line), "%s %s HTTP/1.0\r\n%s\r\n", method, path, extra);
        if (n >= (int)sizeof(line) || xe_conn_write(c, line, (size_t)n) < 0 ||
            (code = read_head(c, head, ret_len, ret_got)) < 0) {
            fprintf(stderr, "Error: no valid HTTP answer from the server for %s %s\n", method,
                    path);
            xe_conn_close(c);
            return -1;
        }
        if (code != 302)
            return code;
        bool moved = header(head, *ret_len, "location", urlbuf, sizeof(urlbuf));
        xe_conn_close(c);
        if (!moved) {
            fprintf(stderr, "Error: the server redirected without a location\n");
            return -1;
        }
    }
    fprintf(stderr, "Error: too many redirections\n");
    return -1;
}

int xe_http_get(const struct xe_target *base, const struct xe_words *words, const char *name,
                const char *url, const struct xe_heartbeat *hb)
{
    char *head = malloc(MAX_HEAD), *buf = NULL, cl[32];
    struct xe_conn c;
    size_t hlen, got;
    long long want = -1, have = 0;
    time_t last = 0;
    int fd = -1, r = -1;
    int code;

    if (!head)
        return -1;
    if (*name && !xe_file_permitted(words, name, true)) {
        fprintf(stderr, "File not permitted: %s\n", name);
        free(head);
        return -1;
    }
    code = request(base, "GET", url, "", &c, head, &hlen, &got);
    if (code < 0)
        goto out_head;
    if (code != 200) {
        fprintf(stderr, "Error: the server replied with HTTP %d\n", code);
        goto out;
    }
    if (header(head, hlen, "content-length", cl, sizeof(cl)))
        want = strtoll(cl, NULL, 10);
    if (!*name)
        fd = STDOUT_FILENO;
    else if ((fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "Error: %s (calling open %s)\n", strerror(errno), name);
        goto out;
    }
    fflush(stdout);
    if (write_all_fd(fd, head + hlen, got - hlen) < 0)
        goto write_failed;
    have = (long long)(got - hlen);
    if (!(buf = malloc(BLOCK)))
        goto write_failed;
    for (;;) {
        beat(hb, &last);
        ssize_t n = xe_conn_read_some(&c, buf, BLOCK);
        if (n < 0) {
            fprintf(stderr, "Error: the download of %s was cut short\n", *name ? name : "stdout");
            goto failed;
        }
        if (n == 0)
            break;
        if (write_all_fd(fd, buf, (size_t)n) < 0)
            goto write_failed;
        have += n;
    }
    if (want >= 0 && have != want) {
        fprintf(stderr, "Error: the download of %s was cut short (%lld of %lld bytes)\n",
                *name ? name : "stdout", have, want);
        goto failed;
    }
    if (fd != STDOUT_FILENO && (fsync(fd) < 0 || close(fd) < 0)) {
        fd = -1;
        goto write_failed;
    }
    fd = -1;
    r = 0;
    goto out;
write_failed:
    fprintf(stderr, "Error: %s (writing %s)\n", strerror(errno), *name ? name : "stdout");
failed:
    if (fd >= 0 && fd != STDOUT_FILENO) {
        close(fd);
        unlink(name);
    }
out:
    xe_conn_close(&c);
out_head:
    free(buf);
    free(head);
    return r;
}

int xe_http_put(const struct xe_target *base, const struct xe_words *words, const char *name,
                const char *url, const struct xe_heartbeat *hb)
{
    char *head = malloc(MAX_HEAD), *buf = NULL, extra[64] = "";
    struct xe_conn c;
    struct stat st;
    size_t hlen, got;
    time_t last = 0;
    int fd, code, r = -1;

    if (!head)
        return -1;
    if (!xe_file_permitted(words, name, false)) {
        fprintf(stderr, "File not permitted: %s\n", name);
        free(head);
        return -1;
    }
    if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "Error: %s (calling open %s)\n", strerror(errno), name);
        if (fd >= 0)
            close(fd);
        free(head);
        return -1;
    }
    /* A regular file announces its size; a pipe ends with the stream. */
    if (S_ISREG(st.st_mode))
        snprintf(extra, sizeof(extra), "Content-length: %lld\r\n", (long long)st.st_size);
    code = request(base, "PUT", url, extra, &c, head, &hlen, &got);
    if (code < 0)
        goto out_fd;
    if (code != 200) {
        fprintf(stderr, "Error: the server replied with HTTP %d\n", code);
        goto out;
    }
    if (!(buf = malloc(BLOCK)))
        goto out;
    for (;;) {
        beat(hb, &last);
        ssize_t n = read(fd, buf, BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "Error: %s (reading %s)\n", strerror(errno), name);
            goto out;
        }
        if (n == 0)
            break;
        if (xe_conn_write(&c, buf, (size_t)n) < 0) {
            fprintf(stderr, "Error: the upload of %s was cut short\n", name);
            goto out;
        }
    }
    r = 0;
out:
    xe_conn_close(&c);
out_fd:
    close(fd);
    free(buf);
    free(head);
    return r;
}
