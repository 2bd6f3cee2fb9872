/* VM.import(url, sr, full_restore, force): xapi downloads the XVA itself
 * and imports it as PUT /import does (xva_import.h), as XCP's
 * Xapi_vm.import does. libcurl fetches the URL (http or https, up to 5
 * redirects, as XCP follows them) on a thread of its own and writes the
 * body into one end of a socket pair; the import reads the other end with
 * plain blocking reads, so memory stays bounded and a compressed archive
 * is decompressed on the way. Errors are XCP's: an answer other than 200
 * is IMPORT_ERROR [its status line], too many redirects IMPORT_ERROR
 * ["Maximum redirect limit reached"], a server that cannot be reached an
 * INTERNAL_ERROR with the reason, a body that is not an XVA the import's
 * own error. Like XCP's default (its "world" TLS verification off), a
 * server's certificate is not verified. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "taskcancel.h"
#include "xva_import.h"
#include "xva_url.h"

LOG_MODULE("xva");

#define MAX_REDIRECTS 5
#define CONNECT_TIMEOUT_S 60L
/* A server that sends nothing for this long is given up. */
#define STALL_TIMEOUT_S 600L

struct fetch {
    CURL *curl;
    const char *task;
    int sv[2]; /* sv[1]: curl writes; sv[0]: the import reads */
    pthread_t thread;
    char status_line[128]; /* of the last answer, e.g. "404 Not Found" */
    long status;
    CURLcode rc;
    bool complete; /* the body ended as the server meant it to */
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;

    /* Each answer of a redirect chain starts with its status line. */
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        if (sp) {
            size_t rest = len - (size_t)(sp + 1 - p);
            while (rest > 0 && (sp[rest] == '\r' || sp[rest] == '\n'))
                rest--;
            snprintf(f->status_line, sizeof(f->status_line), "%.*s", (int)rest, sp + 1);
        }
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n, done = 0;

    curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
    if (f->status != 200)
        return 0; /* not the archive: stop */
    while (done < len) {
        ssize_t w = send(f->sv[1], p + done, len - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0; /* the import stopped reading */
        done += (size_t)w;
    }
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct fetch *f = arg;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return f->task && task_cancel_requested(f->task);
}

static void *fetch_thread(void *arg)
{
    struct fetch *f = arg;

    f->rc = curl_easy_perform(f->curl);
    curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
    __atomic_store_n(&f->complete, f->rc == CURLE_OK && f->status == 200, __ATOMIC_RELEASE);
    shutdown(f->sv[1], SHUT_WR);
    return NULL;
}

static ssize_t from_download(void *arg, void *buf, size_t len)
{
    struct fetch *f = arg;

    for (;;) {
        ssize_t n = recv(f->sv[0], buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && !__atomic_load_n(&f->complete, __ATOMIC_ACQUIRE))
            return -ECONNRESET; /* the download failed or was cut */
        return n < 0 ? -errno : n;
    }
}

/* The download's own failure, which explains the import's, or NULL. */
static struct api_error *fetch_error(struct fetch *f)
{
    if (f->rc == CURLE_TOO_MANY_REDIRECTS)
        return api_failf(IMPORT_ERROR, "Maximum redirect limit reached");
    if (f->status >= 300 && f->status < 400)
        return api_failf(IMPORT_ERROR, "Redirect with no new location");
    if (f->status != 0 && f->status != 200)
        return api_failf(IMPORT_ERROR, "%s",
                         *f->status_line ? f->status_line : "unexpected HTTP status");
    if (f->rc == CURLE_ABORTED_BY_CALLBACK && f->task)
        return api_fail(TASK_CANCELLED, f->task);
    /* The archive was coming: the import's own error says what went wrong
     * (it stopped reading, or the body was cut: a premature end). */
    if (f->status == 200 || f->rc == CURLE_OK || f->rc == CURLE_WRITE_ERROR)
        return NULL;
    return api_failf(INTERNAL_ERROR, "Cannot download the VM from the URL: %s",
                     *f->errbuf ? f->errbuf : curl_easy_strerror(f->rc));
}

struct api_error *xva_import_url(const char *url, const struct xva_import_opts *opts,
                                 char (**ret_vms)[64], size_t *ret_n)
{
    struct fetch f = {.task = opts->task, .sv = {-1, -1}};
    struct api_error *e = NULL;

    if (!(f.curl = curl_easy_init()))
        return api_failf(INTERNAL_ERROR, "cannot start a download");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.sv) < 0) {
        curl_easy_cleanup(f.curl);
        return api_failf(INTERNAL_ERROR, "socketpair: %s", strerror(errno));
    }
    curl_easy_setopt(f.curl, CURLOPT_URL, url);
    curl_easy_setopt(f.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f.curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(f.curl, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    curl_easy_setopt(f.curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(f.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(f.curl, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(f.curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(f.curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f.curl, CURLOPT_ERRORBUFFER, f.errbuf);
    curl_easy_setopt(f.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(f.curl, CURLOPT_HEADERDATA, &f);
    curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(f.curl, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(f.curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(f.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(f.curl, CURLOPT_XFERINFODATA, &f);
    curl_easy_setopt(f.curl, CURLOPT_USERAGENT, "xapi/VM.import");
    if (pthread_create(&f.thread, NULL, fetch_thread, &f) != 0) {
        close(f.sv[0]);
        close(f.sv[1]);
        curl_easy_cleanup(f.curl);
        return api_failf(INTERNAL_ERROR, "cannot start a download");
    }
    e = xva_import_stream(from_download, &f, opts, ret_vms, ret_n);
    /* Whatever the import left unread is refused: the download stops. */
    shutdown(f.sv[0], SHUT_RDWR);
    pthread_join(f.thread, NULL);
    close(f.sv[0]);
    close(f.sv[1]);
    if (e) {
        struct api_error *fe = fetch_error(&f);
        if (fe) {
            log_info("VM.import from a URL failed: %s (the import: %s)", fe->code, e->code);
            api_error_free(e);
            e = fe;
        }
    }
    curl_easy_cleanup(f.curl);
    return e;
}
