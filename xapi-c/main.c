/* xapi: the Xenia pool manager. Reads its configuration, opens the
 * database, makes sure this host's objects exist, and serves the XenAPI
 * until SIGINT or SIGTERM. `xapi hash-password` prints a crypt(3) hash of
 * a password read from stdin (for credentials files); `xapi dump-model`
 * prints the compiled data model as JSON (the model test reads it). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/api/host.h"
#include "xapi-c/auth.h"
#include "xapi-c/bootstrap.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/dispatch.h"
#include "xapi-c/domains.h"
#include "xapi-c/http.h"
#include "xapi-c/network.h"
#include "xapi-c/sessions.h"
#include "xapi-c/storage.h"
#include "xapi-c/tasks.h"
#include "xapi-c/templates.h"
#include "xapi-c/tls.h"

LOG_MODULE("xapi");

#define HOUSEKEEPING_INTERVAL 30 /* seconds between session and task clean-ups */
#define MAX_BODY (300 * 1024)    /* xapi's RPC body limit */

static const char *const qual_names[] = {"RW", "RO/constructor", "RO/runtime"};
static const char *const state_names[] = {"published", "prototyped", "deprecated", "removed"};

static int dump_model(void)
{
    model_init();
    api_init();
    json_object *root = json_object_new_object(), *classes = json_object_new_array();
    for (int c = 0; c < C__COUNT; c++) {
        const struct class_desc *cd = &model_classes[c];
        json_object *jc = json_object_new_object(), *fields = json_object_new_array();
        json_object_object_add(jc, "name", json_object_new_string(cd->name));
        json_object_object_add(jc, "state", json_object_new_string(state_names[cd->state]));
        json_object_object_add(jc, "since", json_object_new_string(cd->since));
        for (int i = 0; i < cd->n_fields; i++) {
            const struct field_desc *f = &cd->fields[i];
            json_object *jf = json_object_new_array();
            json_object_array_add(jf, json_object_new_string(f->name));
            json_object_array_add(jf, json_object_new_string(f->type_text));
            json_object_array_add(jf, json_object_new_string(qual_names[f->qual]));
            json_object_array_add(jf, f->def ? json_object_new_string(f->def) : NULL);
            json_object_array_add(jf, json_object_new_string(state_names[f->state]));
            json_object_array_add(jf, json_object_new_string(f->since));
            json_object_array_add(fields, jf);
        }
        json_object_object_add(jc, "fields", fields);
        json_object *enums = json_object_new_object();
        json_object_object_add(jc, "enums", enums);
        json_object *msgs = json_object_new_array(), *methods = json_object_new_array();
        for (int m = 0; m < M__COUNT; m++)
            if (model_msgs[m].cls == c)
                json_object_array_add(msgs, json_object_new_string(model_msgs[m].name));
        size_t n;
        const char *const *names = api_method_names(&n);
        size_t cl = strlen(cd->name);
        for (size_t i = 0; i < n; i++)
            if (strncmp(names[i], cd->name, cl) == 0 && names[i][cl] == '.') {
                const struct method *me = api_find_method(names[i]);
                json_object *jm = json_object_new_object();
                json_object_object_add(jm, "name", json_object_new_string(names[i] + cl + 1));
                json_object_object_add(jm, "generic", json_object_new_boolean(me->msg < 0));
                json_object_object_add(jm, "async", json_object_new_boolean(me->async));
                json_object_object_add(jm, "implemented",
                                       json_object_new_boolean(me->fn || me->kind != MK_CUSTOM));
                json_object_array_add(methods, jm);
            }
        json_object_object_add(jc, "messages", msgs);
        json_object_object_add(jc, "methods", methods);
        json_object_array_add(classes, jc);
    }
    json_object *enums = json_object_new_object();
    for (size_t i = 0; i < model_n_enums; i++) {
        json_object *vals = json_object_new_array();
        for (size_t k = 0; k < model_enums[i].n_values; k++)
            json_object_array_add(vals, json_object_new_string(model_enums[i].values[k]));
        json_object_object_add(enums, model_enums[i].name, vals);
    }
    json_object *errors = json_object_new_object();
    for (int i = 0; i < ERR__COUNT; i++)
        json_object_object_add(errors, model_errors[i].code,
                               json_object_new_string(model_errors[i].params));
    json_object_object_add(root, "classes", classes);
    json_object_object_add(root, "enums", enums);
    json_object_object_add(root, "errors", errors);
    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return 0;
}

static int hash_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        fprintf(stderr, "xapi hash-password: no password on stdin\n");
        free(line);
        return 1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *h = auth_hash_password(line);
    explicit_bzero(line, cap);
    free(line);
    if (!h) {
        fprintf(stderr, "xapi hash-password: crypt failed\n");
        return 1;
    }
    puts(h);
    free(h);
    return 0;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static void usage(void)
{
    printf("Usage: xapi [OPTIONS]\n"
           "       xapi hash-password < password\n"
           "       xapi dump-model\n\n"
           "  --state-dir DIR        database and state (XENIA_STATE_DIR; /var/lib/xenia)\n"
           "  --listen ADDR          TCP address (XENIA_LISTEN; 0.0.0.0)\n"
           "  --http-port N          0 to disable (XENIA_HTTP_PORT; 80)\n"
           "  --https-port N         0 to disable (XENIA_HTTPS_PORT; 443)\n"
           "  --unix-socket PATH     local socket, root trusted (/run/xenia/xapi.sock)\n"
           "  --tls-pem PATH         key and certificate (/etc/xenia/xapi-ssl.pem)\n"
           "  --credentials PATH     user:hash lines (XENIA_CREDENTIALS; default: PAM)\n"
           "  --auth-fail-delay S    seconds before a failed login answers (5)\n"
           "  --hostname NAME        this host's name (the system's)\n"
           "  --domaind-socket PATH  domaind's socket (/run/xenia/domaind.sock)\n"
           "  --storaged-socket PATH storaged's socket (/run/xenia/storaged.sock)\n"
           "  --networkd-socket PATH networkd's socket, \"\" for none (/run/xenia/networkd.sock)\n"
           "  --management-interface NIC  first start's management NIC (inventory, or the\n"
           "                         NIC with the --listen address)\n"
           "  --vif-stand-in internal  VIF ports as OVS internal ports (development host)\n"
           "  --log-level LEVEL      err, warn, notice, info, debug\n");
}

static int parse_args(int argc, char **argv)
{
    enum {
        O_STATE = 256,
        O_LISTEN,
        O_HTTP,
        O_HTTPS,
        O_UNIX,
        O_TLS,
        O_CRED,
        O_DELAY,
        O_HOST,
        O_LOG,
        O_DOMAIND,
        O_STORAGED,
        O_NETWORKD, /* network.c's options */
        O_MGMT,
        O_STANDIN,
    };
    static const struct option opts[] = {{"state-dir", required_argument, NULL, O_STATE},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"http-port", required_argument, NULL, O_HTTP},
                                         {"https-port", required_argument, NULL, O_HTTPS},
                                         {"unix-socket", required_argument, NULL, O_UNIX},
                                         {"tls-pem", required_argument, NULL, O_TLS},
                                         {"credentials", required_argument, NULL, O_CRED},
                                         {"auth-fail-delay", required_argument, NULL, O_DELAY},
                                         {"hostname", required_argument, NULL, O_HOST},
                                         {"log-level", required_argument, NULL, O_LOG},
                                         {"domaind-socket", required_argument, NULL, O_DOMAIND},
                                         {"storaged-socket", required_argument, NULL, O_STORAGED},
                                         {"networkd-socket", required_argument, NULL, O_NETWORKD},
                                         {"management-interface", required_argument, NULL, O_MGMT},
                                         {"vif-stand-in", required_argument, NULL, O_STANDIN},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    char host[HOST_NAME_MAX + 1] = "localhost";
    gethostname(host, sizeof(host));

    xapi_cfg.state_dir = xstrdup(env_or("XENIA_STATE_DIR", "/var/lib/xenia"));
    xapi_cfg.listen = xstrdup(env_or("XENIA_LISTEN", "0.0.0.0"));
    xapi_cfg.http_port = atoi(env_or("XENIA_HTTP_PORT", "80"));
    xapi_cfg.https_port = atoi(env_or("XENIA_HTTPS_PORT", "443"));
    xapi_cfg.unix_socket = xstrdup(env_or("XENIA_UNIX_SOCKET", "/run/xenia/xapi.sock"));
    xapi_cfg.domaind_socket = xstrdup(env_or("XENIA_DOMAIND_SOCKET", "/run/xenia/domaind.sock"));
    xapi_cfg.storaged_socket = xstrdup(env_or("XENIA_STORAGED_SOCKET", "/run/xenia/storaged.sock"));
    xapi_cfg.networkd_socket =
        xstrdup(getenv("XENIA_NETWORKD_SOCKET") ? getenv("XENIA_NETWORKD_SOCKET")
                                                : "/run/xenia/networkd.sock");
    xapi_cfg.management_interface = xstrdup(env_or("XENIA_MANAGEMENT_INTERFACE", ""));
    xapi_cfg.vif_stand_in = xstrdup(env_or("XENIA_VIF_STAND_IN", ""));
    xapi_cfg.tls_pem = xstrdup(env_or("XENIA_TLS_PEM", "/etc/xenia/xapi-ssl.pem"));
    xapi_cfg.credentials =
        getenv("XENIA_CREDENTIALS") ? xstrdup(getenv("XENIA_CREDENTIALS")) : NULL;
    xapi_cfg.auth_fail_delay = strtod(env_or("XENIA_AUTH_FAIL_DELAY", "5"), NULL);
    xapi_cfg.hostname = xstrdup(host);
    xapi_cfg.task_workers = 4;

    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char **target = NULL;
        switch (o) {
        case O_STATE:
            target = &xapi_cfg.state_dir;
            break;
        case O_LISTEN:
            target = &xapi_cfg.listen;
            break;
        case O_HTTP:
            xapi_cfg.http_port = atoi(optarg);
            break;
        case O_HTTPS:
            xapi_cfg.https_port = atoi(optarg);
            break;
        case O_UNIX:
            target = &xapi_cfg.unix_socket;
            break;
        case O_TLS:
            target = &xapi_cfg.tls_pem;
            break;
        case O_CRED:
            target = &xapi_cfg.credentials;
            break;
        case O_DELAY:
            xapi_cfg.auth_fail_delay = strtod(optarg, NULL);
            break;
        case O_HOST:
            target = &xapi_cfg.hostname;
            break;
        case O_DOMAIND:
            target = &xapi_cfg.domaind_socket;
            break;
        case O_STORAGED:
            target = &xapi_cfg.storaged_socket;
            break;
        case O_NETWORKD:
            target = &xapi_cfg.networkd_socket;
            break;
        case O_MGMT:
            target = &xapi_cfg.management_interface;
            break;
        case O_STANDIN:
            target = &xapi_cfg.vif_stand_in;
            break;
        case O_LOG:
            if (log_set_level("*", optarg) < 0) {
                fprintf(stderr, "xapi: unknown log level %s\n", optarg);
                return -EINVAL;
            }
            break;
        case 'h':
            usage();
            exit(0);
        default:
            usage();
            return -EINVAL;
        }
        if (target) {
            free(*target);
            *target = xstrdup(optarg);
        }
    }
    if (*xapi_cfg.unix_socket == '\0') {
        free(xapi_cfg.unix_socket);
        xapi_cfg.unix_socket = NULL;
    }
    if (*xapi_cfg.vif_stand_in && !streq(xapi_cfg.vif_stand_in, "internal")) {
        fprintf(stderr, "xapi: --vif-stand-in takes \"internal\" (or nothing)\n");
        return -EINVAL;
    }
    xapi_cfg.db_path = xasprintf("%s/pool.db", xapi_cfg.state_dir);
    return 0;
}

int main(int argc, char **argv)
{
    struct http_server *server = NULL;
    sigset_t sigs;
    int r;

    if (argc > 1 && streq(argv[1], "hash-password"))
        return hash_password();
    if (argc > 1 && streq(argv[1], "dump-model"))
        return dump_model();
    if (parse_args(argc, argv) < 0)
        return 2;

    /* Signals are taken synchronously by the main thread; every other
     * thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    double t0 = now_monotonic();
    model_init();
    if (mkdir(xapi_cfg.state_dir, 0700) < 0 && errno != EEXIST) {
        log_error_errno(-errno, "cannot create %s: %m", xapi_cfg.state_dir);
        return 1;
    }
    if ((r = db_open(xapi_cfg.db_path)) < 0)
        return 1;
    sessions_init();
    if ((r = bootstrap_host(xapi_cfg.state_dir)) < 0 || (r = templates_ensure()) < 0)
        return 1;
    api_init();
    host_startup(); /* api/host.h */
    tasks_init(xapi_cfg.task_workers);
    domains_init(xapi_cfg.domaind_socket);
    storage_init(xapi_cfg.storaged_socket);
    network_init(xapi_cfg.networkd_socket, xapi_cfg.management_interface, xapi_cfg.vif_stand_in);
    if (xapi_cfg.https_port &&
        (r = tls_ensure_certificate(xapi_cfg.tls_pem, xapi_cfg.hostname)) < 0) {
        log_error_errno(r, "cannot make the TLS certificate %s: %m", xapi_cfg.tls_pem);
        return 1;
    }
    if (xapi_cfg.unix_socket) {
        char *dir = xstrdup(xapi_cfg.unix_socket);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0755);
        }
        free(dir);
    }
    struct http_config hc = {
        .address = xapi_cfg.listen,
        .http_port = xapi_cfg.http_port,
        .https_port = xapi_cfg.https_port,
        .tls_pem = xapi_cfg.tls_pem,
        .unix_path = xapi_cfg.unix_socket,
        .max_body = MAX_BODY,
        .max_connections = 1024,
        .idle_timeout = 300,
    };
    if ((r = http_server_start(&hc, dispatch_http, NULL, &server)) < 0) {
        log_error_errno(r, "cannot serve on %s (http %d, https %d): %m", xapi_cfg.listen,
                        xapi_cfg.http_port, xapi_cfg.https_port);
        return 1;
    }
    log_notice("xapi ready in %.3f s: host %s, http %d, https %d on %s", now_monotonic() - t0,
               xapi_state.host_uuid, xapi_cfg.http_port, xapi_cfg.https_port, xapi_cfg.listen);

    for (;;) {
        struct timespec ts = {HOUSEKEEPING_INTERVAL, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        sessions_gc();
        tasks_gc();
    }
    log_notice("stopping");
    api_stop();
    db_kick(); /* wakes calls waiting for events, so their connections end */
    http_server_stop(server);
    network_shutdown();
    storage_shutdown();
    domains_shutdown();
    tasks_shutdown();
    sessions_shutdown();
    db_close();
    host_agent_finish(argv); /* api/host.h: host.restart_agent */
    return 0;
}
