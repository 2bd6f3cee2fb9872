/* xe: the thin command-line client of the XenAPI (xe-cli.md 1.1, 1.2, 5).
 * It handles only the connection options; every other word goes to xapi's
 * /cli handler, which runs the command and tells this program what to do:
 * print, read a file, ask the user, move a file over HTTP, exit with a
 * status. It reaches xapi on its Unix socket by default (XE_SOCKET, else
 * /run/xenia/xapi.sock; root is trusted there), or over TLS (certificates
 * not verified, as the upstream client) or plain TCP (--nossl) when a
 * server is named (conn.c). Files move only under the protocol's safety
 * rule (transfer.c). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xe.h"

#define PROTO_PREFIX "XenSource thin CLI protocol"
#define PROTO_MAJOR 0
#define PROTO_MINOR 2
#define MAX_FRAME (16 * 1024 * 1024)

enum {
    CMD_PRINT = 0,
    CMD_LOAD = 1,
    CMD_PROMPT = 3,
    CMD_EXIT = 4,
    CMD_HTTP_GET = 12,
    CMD_HTTP_PUT = 13,
    CMD_ERROR = 14,
    CMD_DEBUG = 15,
    CMD_PRINT_STDERR = 16,
    CMD_HTTP_CONNECT = 17,
};

struct options {
    char *server; /* NULL: the local Unix socket */
    int port;     /* 0: the default for the transport */
    char *username, *password, *passwordfile;
    bool nossl, debug;
    char **words; /* forwarded to the server */
    size_t n_words;
};

static struct options opt = {.username = NULL};

static void die(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("Out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        die("Out of memory");
    return d;
}

static void set(char **field, const char *v)
{
    free(*field);
    *field = xstrdup(v);
}

static void add_word(const char *w)
{
    opt.words = xrealloc(opt.words, (opt.n_words + 1) * sizeof(char *));
    opt.words[opt.n_words++] = xstrdup(w);
}

static bool truthy(const char *v)
{
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0;
}

static void set_port(const char *v)
{
    char *end;
    long p = strtol(v, &end, 10);
    if (!*v || *end || p < 0 || p > 65535)
        die("Port number must be an integer (0-65535)");
    opt.port = (int)p;
}

/* A key=value word: a connection option is taken here, any other goes to
 * the server. Returns false for a word that is not a connection option. */
static bool take_keyvalue(const char *w)
{
    const char *eq = strchr(w, '=');
    if (!eq)
        return false;
    size_t n = (size_t)(eq - w);
    const char *v = eq + 1;
#define KEY(k) (n == strlen(k) && strncmp(w, k, n) == 0)
    if (KEY("server"))
        set(&opt.server, v);
    else if (KEY("port"))
        set_port(v);
    else if (KEY("username"))
        set(&opt.username, v);
    else if (KEY("password"))
        set(&opt.password, v);
    else if (KEY("passwordfile"))
        set(&opt.passwordfile, v);
    else if (KEY("nossl"))
        opt.nossl = truthy(v);
    else if (KEY("debug") || KEY("debugonfail"))
        opt.debug = truthy(v);
    else if (KEY("traceparent"))
        ;
    else
        return false;
#undef KEY
    return true;
}

/* Parses words (argv or XE_EXTRA_ARGS); i is advanced past switch values. */
static void parse_words(int n, char **w, bool forward)
{
    for (int i = 0; i < n; i++) {
        const char *a = w[i];
        if ((strcmp(a, "-s") == 0 || strcmp(a, "-h") == 0) && i + 1 < n)
            set(&opt.server, w[++i]);
        else if (strcmp(a, "-p") == 0 && i + 1 < n)
            set_port(w[++i]);
        else if (strcmp(a, "-u") == 0 && i + 1 < n)
            set(&opt.username, w[++i]);
        else if (strcmp(a, "-pw") == 0 && i + 1 < n)
            set(&opt.password, w[++i]);
        else if (strcmp(a, "-pwf") == 0 && i + 1 < n)
            set(&opt.passwordfile, w[++i]);
        else if (strcmp(a, "--nossl") == 0)
            opt.nossl = true;
        else if (strcmp(a, "--debug") == 0 || strcmp(a, "--debug-on-fail") == 0)
            opt.debug = true;
        else if (strcmp(a, "--traceparent") == 0 && i + 1 < n)
            i++;
        else if (!take_keyvalue(a) && forward)
            add_word(a);
    }
}

/* ~/.xe: key=value lines; unknown keys go to the server. */
static void read_rc(void)
{
    const char *home = getenv("HOME");
    char path[PATH_MAX], line[4096];
    char **lines = NULL;
    size_t n = 0;
    FILE *f;
    bool bad = false;

    if (!home || snprintf(path, sizeof(path), "%s/.xe", home) >= (int)sizeof(path))
        return;
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        if (!strchr(line, '='))
            bad = true;
        lines = xrealloc(lines, (n + 1) * sizeof(char *));
        lines[n++] = xstrdup(line);
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "Error parsing rc file. No defaults loaded\n");
    else
        for (size_t i = 0; i < n; i++)
            if (!take_keyvalue(lines[i]))
                add_word(lines[i]);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* XE_EXTRA_ARGS: comma-separated words, "\," for a literal comma. */
static void read_extra_args(void)
{
    const char *e = getenv("XE_EXTRA_ARGS");
    char **w = NULL;
    int n = 0;
    char *cur;
    size_t len = 0;

    if (!e || !*e)
        return;
    cur = xrealloc(NULL, strlen(e) + 1);
    for (const char *p = e;; p++) {
        if (*p == '\\' && p[1] == ',') {
            cur[len++] = ',';
            p++;
            continue;
        }
        if (*p == ',' || !*p) {
            cur[len] = '\0';
            if (len) {
                w = xrealloc(w, (size_t)(n + 1) * sizeof(char *));
                w[n++] = xstrdup(cur);
            }
            len = 0;
            if (!*p)
                break;
            continue;
        }
        cur[len++] = *p;
    }
    free(cur);
    parse_words(n, w, true);
    for (int i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

static void read_password_file(void)
{
    char u[1024], p[1024];
    FILE *f = fopen(opt.passwordfile, "r");
    if (!f) {
        fprintf(stderr, "Error: %s (calling open %s)\n", strerror(errno), opt.passwordfile);
        exit(1);
    }
    if (!fgets(u, sizeof(u), f) || !fgets(p, sizeof(p), f)) {
        fclose(f);
        die("Error: password file format: expecting username on the first line, password on "
            "the second line");
    }
    fclose(f);
    u[strcspn(u, "\r\n")] = '\0';
    p[strcspn(p, "\r\n")] = '\0';
    set(&opt.username, u);
    set(&opt.password, p);
}

static void lost(void)
{
    die("Lost connection to the server.");
}

/* Where the CLI connection goes, from the options. */
static struct xe_target target(void)
{
    return (struct xe_target){.host = opt.server, .port = opt.port, .tls = !opt.nossl};
}

/* Sends a frame of n ints. */
static void send_ints(struct xe_conn *c, const uint32_t *v, size_t n)
{
    unsigned char buf[32];
    xe_put_u32(buf, (uint32_t)(4 * n));
    for (size_t i = 0; i < n; i++)
        xe_put_u32(buf + 4 + 4 * i, v[i]);
    if (xe_conn_write(c, buf, 4 + 4 * n) < 0)
        lost();
}

static void send_response(struct xe_conn *c, uint32_t r)
{
    send_ints(c, (uint32_t[]){XE_MSG_RESPONSE, r}, 2);
}

static void send_blob(struct xe_conn *c, const void *data, size_t len)
{
    send_ints(c, (uint32_t[]){XE_MSG_BLOB, XE_BLOB_CHUNK, (uint32_t)len}, 3);
    if (len && xe_conn_write(c, data, len) < 0)
        lost();
    send_ints(c, (uint32_t[]){XE_MSG_BLOB, XE_BLOB_END}, 2);
}

/* Tells the server, during a long transfer, that this client still lives. */
static void heartbeat(void *arg)
{
    send_response(arg, XE_RESP_WAIT);
}

static struct xe_words words(void)
{
    return (struct xe_words){opt.words, opt.n_words};
}

static void do_load(struct xe_conn *c, const char *name)
{
    struct stat st;
    char *data;
    FILE *f;

    struct xe_words w = words();
    if (!xe_file_permitted(&w, name, false)) {
        fprintf(stderr, "File not permitted: %s\n", name);
        send_response(c, XE_RESP_FAILED);
        return;
    }
    if (!(f = fopen(name, "rb")) || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "Error: %s (calling open %s)\n", strerror(errno), name);
        if (f)
            fclose(f);
        send_response(c, XE_RESP_FAILED);
        return;
    }
    data = xrealloc(NULL, (size_t)st.st_size);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    send_response(c, XE_RESP_OK);
    send_blob(c, data, n);
    free(data);
}

static void do_prompt(struct xe_conn *c)
{
    char line[4096];
    if (!fgets(line, sizeof(line), stdin))
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    send_blob(c, line, strlen(line));
}

/* Reads a string at *p of the payload; NULL if it runs past end. */
static char *take_string(const unsigned char **p, const unsigned char *end)
{
    if (end - *p < 4)
        return NULL;
    uint32_t n = xe_get_u32(*p);
    *p += 4;
    if ((size_t)(end - *p) < n)
        return NULL;
    char *s = xrealloc(NULL, (size_t)n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n;
    return s;
}

static int run(struct xe_conn *c)
{
    for (;;) {
        unsigned char h[4];
        if (xe_conn_read(c, h, 4) < 0)
            lost();
        uint32_t len = xe_get_u32(h);
        if (len < 8 || len > MAX_FRAME)
            lost();
        unsigned char *buf = xrealloc(NULL, len);
        if (xe_conn_read(c, buf, len) < 0)
            lost();
        const unsigned char *p = buf + 8, *end = buf + len;
        uint32_t kind = xe_get_u32(buf), tag = xe_get_u32(buf + 4);
        char *a = NULL, *b = NULL;
        if (kind != XE_MSG_COMMAND)
            lost();
        switch (tag) {
        case CMD_PRINT:
            if (!(a = take_string(&p, end)))
                lost();
            printf("%s\n", a);
            break;
        case CMD_PRINT_STDERR:
            if (!(a = take_string(&p, end)))
                lost();
            fflush(stdout);
            fputs(a, stderr);
            break;
        case CMD_DEBUG:
            if (!(a = take_string(&p, end)))
                lost();
            if (opt.debug)
                fprintf(stderr, "%s\n", a);
            break;
        case CMD_EXIT:
            if (end - p < 4)
                lost();
            fflush(stdout);
            int code = (int)xe_get_u32(p);
            free(buf);
            return code;
        case CMD_ERROR: {
            if (!(a = take_string(&p, end)) || end - p < 4)
                lost();
            uint32_t n = xe_get_u32(p);
            p += 4;
            fflush(stdout);
            fprintf(stderr, "Error code: %s\nError parameters: ", a);
            for (uint32_t i = 0; i < n; i++) {
                char *s = take_string(&p, end);
                if (!s)
                    lost();
                fprintf(stderr, "%s%s", i ? ", " : "", s);
                free(s);
            }
            fputc('\n', stderr);
            break;
        }
        case CMD_LOAD:
            if (!(a = take_string(&p, end)))
                lost();
            fflush(stdout);
            do_load(c, a);
            break;
        case CMD_PROMPT:
            fflush(stdout);
            do_prompt(c);
            break;
        case CMD_HTTP_GET:
        case CMD_HTTP_PUT: {
            if (!(a = take_string(&p, end)) || !(b = take_string(&p, end)))
                lost();
            fflush(stdout);
            struct xe_target t = target();
            struct xe_words w = words();
            struct xe_heartbeat hb = {heartbeat, c};
            int r = tag == CMD_HTTP_GET ? xe_http_get(&t, &w, a, b, &hb)
                                        : xe_http_put(&t, &w, a, b, &hb);
            send_response(c, r == 0 ? XE_RESP_OK : XE_RESP_FAILED);
            break;
        }
        case CMD_HTTP_CONNECT:
            /* The console tunnel needs a console server xapi does not
             * have yet. */
            if (!(a = take_string(&p, end)))
                lost();
            fflush(stdout);
            fprintf(stderr, "Error: this xe cannot open console connections yet\n");
            send_response(c, XE_RESP_FAILED);
            break;
        default:
            lost();
        }
        free(a);
        free(b);
        free(buf);
    }
}

static void usage(void)
{
    printf("Usage: xe <command> [-s server] [-p port] ([-u username] [-pw password] or "
           "[-pwf <password file>]) [--nossl] <other arguments>\n\n"
           "A full list of commands can be obtained by running \n\txe help --all\n"
           "Without -s, xe talks to the local xapi on its Unix socket ($XE_SOCKET, else %s).\n",
           XE_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
    struct xe_conn c;
    unsigned char hs[sizeof(PROTO_PREFIX) - 1 + 8];
    size_t plen = sizeof(PROTO_PREFIX) - 1;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-help") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        }
        if (strcmp(argv[i], "-version") == 0) {
            printf("ThinCLI protocol: %d.%d\n", PROTO_MAJOR, PROTO_MINOR);
            return 0;
        }
    }
    /* Lowest to highest: ~/.xe, XE_EXTRA_ARGS, the command line. Words
     * forwarded to the server keep the command first. */
    struct options cmdline;
    read_rc();
    read_extra_args();
    char **pre = opt.words;
    size_t npre = opt.n_words;
    opt.words = NULL;
    opt.n_words = 0;
    parse_words(argc - 1, argv + 1, true);
    for (size_t i = 0; i < npre; i++) {
        opt.words = xrealloc(opt.words, (opt.n_words + 1) * sizeof(char *));
        opt.words[opt.n_words++] = pre[i];
    }
    free(pre);
    (void)cmdline;
    if (opt.passwordfile)
        read_password_file();

    /* The request: POST /cli, one word per line. */
    size_t blen = 0, bcap = 256;
    char *body = xrealloc(NULL, bcap);
    for (size_t i = 0; i < opt.n_words + 2; i++) {
        char tmp[64];
        const char *w;
        char *own = NULL;
        if (i < opt.n_words)
            w = opt.words[i];
        else {
            const char *k = i == opt.n_words ? "username" : "password";
            const char *v = i == opt.n_words ? (opt.username ? opt.username : "root")
                                             : (opt.password ? opt.password : "null");
            size_t need = strlen(k) + strlen(v) + 2;
            own = xrealloc(NULL, need);
            snprintf(own, need, "%s=%s", k, v);
            w = own;
        }
        (void)tmp;
        size_t wl = strlen(w);
        while (blen + wl + 2 > bcap)
            bcap *= 2;
        body = xrealloc(body, bcap);
        if (i > 0)
            body[blen++] = '\n';
        memcpy(body + blen, w, wl);
        blen += wl;
        free(own);
    }
    struct xe_target t = target();
    if (xe_conn_open(&c, &t) < 0)
        return 1;
    /* One write for the head and the body: two small writes on TCP would
     * wait for the peer's delayed acknowledgement. */
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "POST /cli HTTP/1.0\r\nUser-agent: xe-cli/Unix/0.2\r\noriginator: cli\r\n"
                      "content-length: %zu\r\n\r\n",
                      blen);
    body = xrealloc(body, blen + (size_t)hl);
    memmove(body + hl, body, blen);
    memcpy(body, head, (size_t)hl);
    if (xe_conn_write(&c, body, blen + (size_t)hl) < 0)
        die("Unable to contact server. Please check server and port settings.");
    free(body);

    if (xe_conn_read(&c, hs, 4) < 0)
        lost();
    if (memcmp(hs, "HTTP", 4) == 0)
        die("Server internal error.");
    if (xe_conn_read(&c, hs + 4, sizeof(hs) - 4) < 0)
        lost();
    if (memcmp(hs, PROTO_PREFIX, plen) != 0)
        die("Failed to contact a running management agent.");
    if (xe_get_u32(hs + plen) != PROTO_MAJOR) {
        fprintf(stderr, "Protocol version mismatch: server %u.%u, client %d.%d\n",
                xe_get_u32(hs + plen), xe_get_u32(hs + plen + 4), PROTO_MAJOR, PROTO_MINOR);
        return 1;
    }
    memcpy(hs, PROTO_PREFIX, plen);
    xe_put_u32(hs + plen, PROTO_MAJOR);
    xe_put_u32(hs + plen + 4, PROTO_MINOR);
    if (xe_conn_write(&c, hs, sizeof(hs)) < 0)
        lost();
    int code = run(&c);
    xe_conn_close(&c);
    return code;
}
