/* xapi's configuration (from the command line and the environment, see
 * main.c) and the few facts about this host that every module needs. Set
 * once at start, read-only afterwards. */
#pragma once

#include <stdbool.h>

struct xapi_config {
    char *state_dir; /* the database and certificates live here */
    char *db_path;
    char *tls_pem;
    char *credentials; /* "user:crypt-hash" lines; NULL: PAM */
    char *listen;      /* TCP address */
    char *unix_socket; /* NULL: none */
    char *domaind_socket;
    char *storaged_socket;
    /* networkd (network.c): its socket ("" none), the first start's
     * management NIC, the VIF stand-in of a development host */
    char *networkd_socket;
    char *management_interface;
    char *vif_stand_in;
    int http_port, https_port;
    double auth_fail_delay; /* seconds before a failed login answers */
    int task_workers;
    char *hostname;
};

struct xapi_state {
    char host_ref[64];
    char host_uuid[40];
    char pool_ref[64];
};

extern struct xapi_config xapi_cfg;
extern struct xapi_state xapi_state;
