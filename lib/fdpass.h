/* Handing an open file descriptor to another process over a Unix socket
 * (SCM_RIGHTS), with one byte of data so the receiver can tell the
 * message from the connection closing. */
#pragma once

/* Sends fd over sock. 0, or -errno. */
int fd_send(int sock, int fd);

/* Waits up to timeout_ms for a descriptor on sock and returns it, close
 * on exec; -1 on timeout, a closed connection, or a message without one. */
int fd_recv(int sock, int timeout_ms);
