/* The watcher: a thread that listens to the kernel's link and address
 * notifications (rtnetlink multicast groups, through libnl) and bumps
 * netd's observed generation on each, so that state/wait answers at once
 * when a NIC's carrier changes or a DHCP client sets an address. xapi
 * long-polls state/wait and refreshes PIF_metrics and DHCP PIFs from it;
 * nothing here changes the system. */
#include "networkd/watch.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("watch");

/* Each message is one change seen; its content is not needed, since
 * state/get and nic/list read the live system. */
static int on_message(struct nl_msg *msg, void *arg)
{
    (void)msg;
    (*(unsigned *)arg)++;
    return NL_OK;
}

static void *watch_main(void *arg)
{
    struct netd *n = arg;
    struct nl_sock *sk = n->watch_sk;
    unsigned seen = 0;

    nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_message, &seen);
    for (;;) {
        struct pollfd p[2] = {{.fd = n->watch_fd, .events = POLLIN},
                              {.fd = nl_socket_get_fd(sk), .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %m");
            break;
        }
        if (p[0].revents)
            break;
        if (!p[1].revents)
            continue;
        seen = 0;
        int r = nl_recvmsgs_default(sk);
        /* An overrun socket lost notifications: something changed. */
        if (r < 0 && r != -NLE_NOMEM && r != -NLE_AGAIN)
            log_debug("netlink notifications: %s", nl_geterror(r));
        if (seen || r < 0)
            netd_observed(n);
    }
    return NULL;
}

int watch_start(struct netd *n, char **ret_why)
{
    struct nl_sock *sk = nl_socket_alloc();
    int r;

    if (!sk) {
        *ret_why = xstrdup("cannot allocate a netlink socket");
        return -ENOMEM;
    }
    nl_socket_disable_seq_check(sk);
    if ((r = nl_connect(sk, NETLINK_ROUTE)) < 0 ||
        (r = nl_socket_add_memberships(sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
                                       0)) < 0 ||
        (r = nl_socket_set_nonblocking(sk)) < 0) {
        *ret_why = xasprintf("netlink notifications: %s", nl_geterror(r));
        nl_socket_free(sk);
        return -EIO;
    }
    /* bursts (a thousand ports made at once) must not be lost quietly */
    nl_socket_set_buffer_size(sk, 1 << 20, 0);
    n->watch_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->watch_fd < 0) {
        r = -errno;
        *ret_why = xasprintf("eventfd: %s", strerror(errno));
        nl_socket_free(sk);
        return r;
    }
    n->watch_sk = sk;
    if ((r = -pthread_create(&n->watch_thread, NULL, watch_main, n)) < 0) {
        *ret_why = xasprintf("cannot start the watcher: %s", strerror(-r));
        close(n->watch_fd);
        nl_socket_free(sk);
        n->watch_sk = NULL;
        n->watch_fd = -1;
        return r;
    }
    return 0;
}

void watch_stop(struct netd *n)
{
    uint64_t one = 1;
    if (!n->watch_sk)
        return;
    if (write(n->watch_fd, &one, sizeof(one)) < 0)
        log_warning("cannot wake the watcher: %m");
    pthread_join(n->watch_thread, NULL);
    close(n->watch_fd);
    nl_socket_free(n->watch_sk);
    n->watch_sk = NULL;
    n->watch_fd = -1;
}
